;; Prints what a workload can observe of its host, as hex, one item per line:
;; realtime clock, monotonic clock, 16 random bytes, the dataset's filestat (64 bytes), the root's
;; filestat, stdin's filestat. The sandbox must make all of it identical from run to run.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get" (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get" (func $fd_filestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 128) "dataset.")
  (global $BUF i32 (i32.const 1024))
  (global $OUT i32 (i32.const 4096))

  (func $hex_digit (param $v i32) (result i32)
    (i32.add (local.get $v) (select (i32.const 48) (i32.const 87) (i32.lt_u (local.get $v) (i32.const 10)))))

  ;; Print [ptr, ptr+len) as hex and a newline.
  (func $print_hex (param $ptr i32) (param $len i32)
    (local $i i32) (local $b i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $b (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (i32.store8 (i32.add (global.get $OUT) (i32.shl (local.get $i) (i32.const 1)))
          (call $hex_digit (i32.shr_u (local.get $b) (i32.const 4))))
        (i32.store8 (i32.add (global.get $OUT) (i32.add (i32.shl (local.get $i) (i32.const 1)) (i32.const 1)))
          (call $hex_digit (i32.and (local.get $b) (i32.const 15))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store8 (i32.add (global.get $OUT) (i32.shl (local.get $len) (i32.const 1))) (i32.const 10))
    (i32.store (i32.const 0) (global.get $OUT))
    (i32.store (i32.const 4) (i32.add (i32.shl (local.get $len) (i32.const 1)) (i32.const 1)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start")
    (if (call $clock_time_get (i32.const 0) (i64.const 1) (global.get $BUF)) (then (call $proc_exit (i32.const 1))))
    (call $print_hex (global.get $BUF) (i32.const 8))
    (if (call $clock_time_get (i32.const 1) (i64.const 1) (global.get $BUF)) (then (call $proc_exit (i32.const 1))))
    (call $print_hex (global.get $BUF) (i32.const 8))
    (if (call $random_get (global.get $BUF) (i32.const 16)) (then (call $proc_exit (i32.const 1))))
    (call $print_hex (global.get $BUF) (i32.const 16))
    (if (call $path_filestat_get (i32.const 3) (i32.const 0) (i32.const 128) (i32.const 7) (global.get $BUF)) (then (call $proc_exit (i32.const 2))))
    (call $print_hex (global.get $BUF) (i32.const 64))
    (if (call $path_filestat_get (i32.const 3) (i32.const 0) (i32.const 135) (i32.const 1) (global.get $BUF)) (then (call $proc_exit (i32.const 3))))
    (call $print_hex (global.get $BUF) (i32.const 64))
    (if (call $fd_filestat_get (i32.const 0) (global.get $BUF)) (then (call $proc_exit (i32.const 4))))
    (call $print_hex (global.get $BUF) (i32.const 64))))
