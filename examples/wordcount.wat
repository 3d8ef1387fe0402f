;; wordcount: a dataset workload.
;; dataset (/dataset): any text. stdin: optionally one word (surrounding whitespace ignored).
;; stdout: "<lines> <words> <bytes> <matches>\n" — lines = count of '\n', words = runs of
;; non-whitespace (as `wc`), bytes = dataset size, matches = words equal to the stdin word (0 when
;; stdin is empty). Exit 2 when there is no dataset.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get" (func $fd_filestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (global $IOV i32 (i32.const 0))     ;; iovec + count at 8
  (global $FD i32 (i32.const 16))     ;; opened fd
  (global $STAT i32 (i32.const 64))   ;; filestat, 64 bytes
  (global $PATH i32 (i32.const 128))
  (global $Q i32 (i32.const 1024))    ;; stdin word, up to 1023 bytes
  (global $OUT i32 (i32.const 2048))
  (global $DATA i32 (i32.const 65536))
  (data (i32.const 128) "dataset")

  (func $read_fd (param $fd i32) (param $ptr i32) (param $cap i32) (result i32)
    (local $len i32)
    (block $done
      (loop $more
        (br_if $done (i32.ge_u (local.get $len) (local.get $cap)))
        (i32.store (global.get $IOV) (i32.add (local.get $ptr) (local.get $len)))
        (i32.store offset=4 (global.get $IOV) (i32.sub (local.get $cap) (local.get $len)))
        (if (call $fd_read (local.get $fd) (global.get $IOV) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 1))))
        (br_if $done (i32.eqz (i32.load (i32.const 8))))
        (local.set $len (i32.add (local.get $len) (i32.load (i32.const 8))))
        (br $more)))
    (local.get $len))

  (func $write_all (param $ptr i32) (param $len i32)
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $len)))
        (i32.store (global.get $IOV) (local.get $ptr))
        (i32.store offset=4 (global.get $IOV) (local.get $len))
        (if (call $fd_write (i32.const 1) (global.get $IOV) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 1))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.load (i32.const 8))))
        (local.set $len (i32.sub (local.get $len) (i32.load (i32.const 8))))
        (br $more))))

  (func $fmt_u32 (param $out i32) (param $v i32) (result i32)
    (local $tmp i32) (local $len i32) (local $i i32)
    (local.set $tmp (local.get $v))
    (loop $count
      (local.set $len (i32.add (local.get $len) (i32.const 1)))
      (local.set $tmp (i32.div_u (local.get $tmp) (i32.const 10)))
      (br_if $count (local.get $tmp)))
    (local.set $i (local.get $len))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (local.get $out) (local.get $i))
        (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digit (local.get $i)))
    (i32.add (local.get $out) (local.get $len)))

  ;; space, \t, \n, \v, \f, \r
  (func $is_space (param $c i32) (result i32)
    (i32.or (i32.eq (local.get $c) (i32.const 32))
            (i32.lt_u (i32.sub (local.get $c) (i32.const 9)) (i32.const 5))))

  (func $equal (param $a i32) (param $b i32) (param $len i32) (result i32)
    (block $differ
      (loop $next
        (if (i32.eqz (local.get $len)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $len (i32.sub (local.get $len) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  (func (export "_start")
    (local $qlen i32) (local $qstart i32) (local $qend i32)
    (local $fd i32) (local $size i32) (local $i i32) (local $c i32) (local $end i32)
    (local $lines i32) (local $words i32) (local $matches i32) (local $wstart i32) (local $inword i32)
    (local $p i32)
    ;; the query word: trim whitespace around stdin
    (local.set $qlen (call $read_fd (i32.const 0) (global.get $Q) (i32.const 1023)))
    (local.set $qstart (global.get $Q))
    (local.set $qend (i32.add (global.get $Q) (local.get $qlen)))
    (block $s (loop $l
      (br_if $s (i32.ge_u (local.get $qstart) (local.get $qend)))
      (br_if $s (i32.eqz (call $is_space (i32.load8_u (local.get $qstart)))))
      (local.set $qstart (i32.add (local.get $qstart) (i32.const 1))) (br $l)))
    (block $s (loop $l
      (br_if $s (i32.le_u (local.get $qend) (local.get $qstart)))
      (br_if $s (i32.eqz (call $is_space (i32.load8_u (i32.sub (local.get $qend) (i32.const 1))))))
      (local.set $qend (i32.sub (local.get $qend) (i32.const 1))) (br $l)))
    (local.set $qlen (i32.sub (local.get $qend) (local.get $qstart)))

    ;; open /dataset: the only preopen, fd 3, is "/"; rights = fd_read | fd_seek | fd_filestat_get
    (if (call $path_open (i32.const 3) (i32.const 0) (global.get $PATH) (i32.const 7) (i32.const 0)
                         (i64.const 0x200006) (i64.const 0) (i32.const 0) (global.get $FD))
      (then (call $proc_exit (i32.const 2))))
    (local.set $fd (i32.load (global.get $FD)))
    (if (call $fd_filestat_get (local.get $fd) (global.get $STAT)) (then (call $proc_exit (i32.const 1))))
    (if (i64.gt_u (i64.load offset=32 (global.get $STAT)) (i64.const 0xfff00000)) (then (unreachable)))
    (local.set $size (i32.wrap_i64 (i64.load offset=32 (global.get $STAT))))
    ;; grow one page at a time until the whole dataset fits above $DATA
    (block $enough
      (loop $grow
        (br_if $enough (i64.ge_u (i64.mul (i64.extend_i32_u (memory.size)) (i64.const 65536))
                                 (i64.add (i64.extend_i32_u (global.get $DATA)) (i64.extend_i32_u (local.get $size)))))
        (if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)) (then (unreachable)))
        (br $grow)))
    (local.set $size (call $read_fd (local.get $fd) (global.get $DATA) (local.get $size)))
    (drop (call $fd_close (local.get $fd)))

    ;; one pass; a word ends at whitespace or at the end of the data
    (local.set $i (global.get $DATA))
    (local.set $end (i32.add (global.get $DATA) (local.get $size)))
    (block $scanned
      (loop $scan
        (local.set $c (if (result i32) (i32.lt_u (local.get $i) (local.get $end))
                        (then (i32.load8_u (local.get $i))) (else (i32.const 32))))
        (if (call $is_space (local.get $c))
          (then
            (if (local.get $inword)
              (then
                (local.set $words (i32.add (local.get $words) (i32.const 1)))
                (if (i32.and (i32.ne (local.get $qlen) (i32.const 0))
                             (i32.eq (i32.sub (local.get $i) (local.get $wstart)) (local.get $qlen)))
                  (then
                    (if (call $equal (local.get $wstart) (local.get $qstart) (local.get $qlen))
                      (then (local.set $matches (i32.add (local.get $matches) (i32.const 1)))))))))
            (local.set $inword (i32.const 0))
            (if (i32.eq (local.get $c) (i32.const 10)) (then (local.set $lines (i32.add (local.get $lines) (i32.const 1))))))
          (else
            (if (i32.eqz (local.get $inword))
              (then (local.set $inword (i32.const 1)) (local.set $wstart (local.get $i))))))
        (br_if $scanned (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))

    (local.set $p (call $fmt_u32 (global.get $OUT) (local.get $lines)))
    (i32.store8 (local.get $p) (i32.const 32))
    (local.set $p (call $fmt_u32 (i32.add (local.get $p) (i32.const 1)) (local.get $words)))
    (i32.store8 (local.get $p) (i32.const 32))
    (local.set $p (call $fmt_u32 (i32.add (local.get $p) (i32.const 1)) (local.get $size)))
    (i32.store8 (local.get $p) (i32.const 32))
    (local.set $p (call $fmt_u32 (i32.add (local.get $p) (i32.const 1)) (local.get $matches)))
    (i32.store8 (local.get $p) (i32.const 10))
    (call $write_all (global.get $OUT) (i32.sub (i32.add (local.get $p) (i32.const 1)) (global.get $OUT))))
)
