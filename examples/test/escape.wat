;; Tries to get out of the sandbox's filesystem. Prints one line per attempt: "<name> <errno>"
;; (errno 0 = the call succeeded). The first attempt, reading /dataset, must succeed and prints
;; the dataset's first 16 bytes as "read <text>", proving the probes run against a working preopen.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file" (func $path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink" (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory" (func $path_create_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; strings: offset, length
  (data (i32.const 256) "dataset")              ;; 7
  (data (i32.const 272) "../etc/passwd")        ;; 13
  (data (i32.const 288) "/etc/passwd")          ;; 11
  (data (i32.const 304) "../../../../../etc/passwd") ;; 25
  (data (i32.const 336) "newfile")              ;; 7
  (data (i32.const 352) "..")                   ;; 2
  (data (i32.const 368) "link")                 ;; 4
  (data (i32.const 384) "sub")                  ;; 3
  (data (i32.const 400) "../stdin")             ;; 8
  (global $OPENED i32 (i32.const 16))
  (global $OUT i32 (i32.const 4096))
  (global $READ i32 (i32.const 2048))

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; Print "<label> <errno>\n"; the label is given as (ptr, len).
  (func $report (param $label i32) (param $len i32) (param $errno i32)
    (local $p i32)
    (memory.copy (global.get $OUT) (local.get $label) (local.get $len))
    (local.set $p (i32.add (global.get $OUT) (local.get $len)))
    (i32.store8 (local.get $p) (i32.const 32))
    (if (i32.ge_u (local.get $errno) (i32.const 10))
      (then
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.div_u (local.get $errno) (i32.const 10))))))
    (i32.store8 offset=1 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $errno) (i32.const 10))))
    (i32.store8 offset=2 (local.get $p) (i32.const 10))
    (call $write (global.get $OUT) (i32.sub (i32.add (local.get $p) (i32.const 3)) (global.get $OUT))))

  ;; open relative to fd 3 for reading; returns errno
  (func $open_read (param $dir i32) (param $path i32) (param $len i32) (result i32)
    (call $path_open (local.get $dir) (i32.const 1) (local.get $path) (local.get $len) (i32.const 0)
                     (i64.const 0x200006) (i64.const 0) (i32.const 0) (global.get $OPENED)))

  (data (i32.const 512) "read")
  (data (i32.const 520) "open_dotdot_etc_passwd")   ;; 22
  (data (i32.const 544) "open_abs_etc_passwd")      ;; 19
  (data (i32.const 568) "open_deep_dotdot")         ;; 16
  (data (i32.const 588) "open_create")              ;; 11
  (data (i32.const 600) "open_trunc_dataset")       ;; 18
  (data (i32.const 620) "write_dataset")            ;; 13
  (data (i32.const 636) "unlink_dataset")           ;; 14
  (data (i32.const 652) "symlink_etc")              ;; 11
  (data (i32.const 664) "mkdir")                    ;; 5
  (data (i32.const 672) "open_parent_dir")          ;; 15
  (data (i32.const 688) "open_via_fd4")             ;; 12
  (data (i32.const 704) "open_stdin_file")          ;; 15
  (data (i32.const 720) "read ")                    ;; 5

  (func (export "_start")
    (local $fd i32) (local $e i32)
    ;; sanity: /dataset is readable
    (local.set $e (call $open_read (i32.const 3) (i32.const 256) (i32.const 7)))
    (call $report (i32.const 512) (i32.const 4) (local.get $e))
    (if (i32.eqz (local.get $e))
      (then
        (i32.store (i32.const 32) (global.get $READ))
        (i32.store (i32.const 36) (i32.const 16))
        (drop (call $fd_read (i32.load (global.get $OPENED)) (i32.const 32) (i32.const 1) (i32.const 40)))
        (call $write (i32.const 720) (i32.const 5))
        (call $write (global.get $READ) (i32.load (i32.const 40)))
        (call $write (i32.const 720) (i32.const 0))))
    (i32.store8 (global.get $OUT) (i32.const 10))
    (call $write (global.get $OUT) (i32.const 1))
    (call $report (i32.const 520) (i32.const 22) (call $open_read (i32.const 3) (i32.const 272) (i32.const 13)))
    (call $report (i32.const 544) (i32.const 19) (call $open_read (i32.const 3) (i32.const 288) (i32.const 11)))
    (call $report (i32.const 568) (i32.const 16) (call $open_read (i32.const 3) (i32.const 304) (i32.const 25)))
    ;; create a file (oflags CREAT) with write rights
    (call $report (i32.const 588) (i32.const 11)
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 336) (i32.const 7) (i32.const 1)
                       (i64.const 0x7fffffff) (i64.const 0x7fffffff) (i32.const 0) (global.get $OPENED)))
    ;; truncate the dataset (oflags TRUNC)
    (call $report (i32.const 600) (i32.const 18)
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 256) (i32.const 7) (i32.const 8)
                       (i64.const 0x7fffffff) (i64.const 0x7fffffff) (i32.const 0) (global.get $OPENED)))
    ;; open the dataset asking for every right, then write to it
    (local.set $e (call $path_open (i32.const 3) (i32.const 0) (i32.const 256) (i32.const 7) (i32.const 0)
                       (i64.const 0x7fffffff) (i64.const 0x7fffffff) (i32.const 0) (global.get $OPENED)))
    (if (i32.eqz (local.get $e))
      (then
        (i32.store (i32.const 32) (i32.const 336))
        (i32.store (i32.const 36) (i32.const 7))
        (local.set $e (call $fd_write (i32.load (global.get $OPENED)) (i32.const 32) (i32.const 1) (i32.const 40)))))
    (call $report (i32.const 620) (i32.const 13) (local.get $e))
    (call $report (i32.const 636) (i32.const 14) (call $path_unlink_file (i32.const 3) (i32.const 256) (i32.const 7)))
    (call $report (i32.const 652) (i32.const 11) (call $path_symlink (i32.const 288) (i32.const 11) (i32.const 3) (i32.const 368) (i32.const 4)))
    (call $report (i32.const 664) (i32.const 5) (call $path_create_directory (i32.const 3) (i32.const 384) (i32.const 3)))
    (call $report (i32.const 672) (i32.const 15) (call $open_read (i32.const 3) (i32.const 352) (i32.const 2)))
    (call $report (i32.const 688) (i32.const 12) (call $open_read (i32.const 4) (i32.const 272) (i32.const 13)))
    (call $report (i32.const 704) (i32.const 15) (call $open_read (i32.const 3) (i32.const 400) (i32.const 8)))))
