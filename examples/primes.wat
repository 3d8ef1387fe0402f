;; primes: sieve of Eratosthenes.
;; stdin: a decimal N. stdout: "<count of primes <= N> <largest prime <= N>\n" ("0 0" when N < 2).
;; The sieve takes N+1 bytes above the first page, grown one page at a time (a heap that meets the
;; memory limit fails there). Exit 2 when stdin holds no number.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (global $IOV i32 (i32.const 0))
  (global $IN i32 (i32.const 1024))
  (global $OUT i32 (i32.const 2048))
  (global $SIEVE i32 (i32.const 65536))

  (func $read_stdin (result i32)
    (local $len i32)
    (loop $more
      (i32.store (global.get $IOV) (i32.add (global.get $IN) (local.get $len)))
      (i32.store offset=4 (global.get $IOV) (i32.sub (i32.const 255) (local.get $len)))
      (if (call $fd_read (i32.const 0) (global.get $IOV) (i32.const 1) (i32.const 8))
        (then (call $proc_exit (i32.const 1))))
      (local.set $len (i32.add (local.get $len) (i32.load (i32.const 8))))
      (br_if $more (i32.and (i32.load (i32.const 8)) (i32.lt_u (local.get $len) (i32.const 255)))))
    (local.get $len))

  (func $parse_u64 (param $ptr i32) (param $len i32) (result i64)
    (local $end i32) (local $c i32) (local $n i64) (local $seen i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $c (i32.sub (i32.load8_u (local.get $ptr)) (i32.const 48)))
        (if (i32.lt_u (local.get $c) (i32.const 10))
          (then
            (local.set $seen (i32.const 1))
            (local.set $n (i64.add (i64.mul (local.get $n) (i64.const 10)) (i64.extend_i32_u (local.get $c)))))
          (else (br_if $done (local.get $seen))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $next)))
    (if (result i64) (local.get $seen) (then (local.get $n)) (else (i64.const -1))))

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

  ;; Write the decimal digits of $v at $out; returns the address after the last digit.
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

  (func (export "_start")
    (local $n64 i64) (local $n i32) (local $i i32) (local $j i32) (local $count i32) (local $last i32) (local $p i32)
    (local.set $n64 (call $parse_u64 (global.get $IN) (call $read_stdin)))
    (if (i64.lt_s (local.get $n64) (i64.const 0)) (then (call $proc_exit (i32.const 2))))
    ;; N must leave room for the sieve in a 32-bit address space
    (if (i64.gt_u (local.get $n64) (i64.const 0xfffe0000)) (then (unreachable)))
    (local.set $n (i32.wrap_i64 (local.get $n64)))
    (if (i32.ge_u (local.get $n) (i32.const 2))
      (then
        ;; grow until SIEVE + N + 1 bytes fit, one page at a time; a refused grow traps
        (block $enough
          (loop $grow
            (br_if $enough (i64.ge_u (i64.mul (i64.extend_i32_u (memory.size)) (i64.const 65536))
                                     (i64.add (i64.extend_i32_u (global.get $SIEVE)) (i64.add (local.get $n64) (i64.const 1)))))
            (if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)) (then (unreachable)))
            (br $grow)))
        ;; composite[i] = 1 for i in [2, N]; fresh pages are zero
        (local.set $i (i32.const 2))
        (block $sieved
          (loop $outer
            (br_if $sieved (i32.gt_u (local.get $i) (i32.div_u (local.get $n) (local.get $i))))
            (if (i32.eqz (i32.load8_u (i32.add (global.get $SIEVE) (local.get $i))))
              (then
                (local.set $j (i32.mul (local.get $i) (local.get $i)))
                (block $inner_done
                  (loop $inner
                    (i32.store8 (i32.add (global.get $SIEVE) (local.get $j)) (i32.const 1))
                    (br_if $inner_done (i32.gt_u (local.get $j) (i32.sub (local.get $n) (local.get $i))))
                    (local.set $j (i32.add (local.get $j) (local.get $i)))
                    (br $inner)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $outer)))
        (local.set $i (i32.const 2))
        (block $counted
          (loop $scan
            (if (i32.eqz (i32.load8_u (i32.add (global.get $SIEVE) (local.get $i))))
              (then
                (local.set $count (i32.add (local.get $count) (i32.const 1)))
                (local.set $last (local.get $i))))
            (br_if $counted (i32.eq (local.get $i) (local.get $n)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scan)))))
    (local.set $p (call $fmt_u32 (global.get $OUT) (local.get $count)))
    (i32.store8 (local.get $p) (i32.const 32))
    (local.set $p (call $fmt_u32 (i32.add (local.get $p) (i32.const 1)) (local.get $last)))
    (i32.store8 (local.get $p) (i32.const 10))
    (call $write_all (global.get $OUT) (i32.sub (i32.add (local.get $p) (i32.const 1)) (global.get $OUT))))
)
