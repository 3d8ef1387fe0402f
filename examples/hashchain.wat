;; hashchain: a CPU load workload.
;; stdin: a decimal N (surrounding whitespace ignored).
;; stdout: hex(h_N) + "\n", where h_0 = 32 zero bytes and h_{i+1} = sha256(h_i).
;; Exit 2 when stdin holds no number.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)

  ;; memory map
  (global $IOV i32 (i32.const 0))      ;; iovec {ptr,len} + count at 8
  (global $K i32 (i32.const 256))      ;; 64 round constants
  (global $IV i32 (i32.const 512))     ;; initial hash value
  (global $H i32 (i32.const 544))      ;; current hash, 8 words (big-endian word values)
  (global $W i32 (i32.const 1024))     ;; message schedule, 64 words
  (global $IN i32 (i32.const 2048))    ;; stdin, up to 255 bytes
  (global $OUT i32 (i32.const 4096))   ;; hex text

  (data (i32.const 256)
    "\98\2f\8a\42\91\44\37\71\cf\fb\c0\b5\a5\db\b5\e9\5b\c2\56\39\f1\11\f1\59\a4\82\3f\92\d5\5e\1c\ab"
    "\98\aa\07\d8\01\5b\83\12\be\85\31\24\c3\7d\0c\55\74\5d\be\72\fe\b1\de\80\a7\06\dc\9b\74\f1\9b\c1"
    "\c1\69\9b\e4\86\47\be\ef\c6\9d\c1\0f\cc\a1\0c\24\6f\2c\e9\2d\aa\84\74\4a\dc\a9\b0\5c\da\88\f9\76"
    "\52\51\3e\98\6d\c6\31\a8\c8\27\03\b0\c7\7f\59\bf\f3\0b\e0\c6\47\91\a7\d5\51\63\ca\06\67\29\29\14"
    "\85\0a\b7\27\38\21\1b\2e\fc\6d\2c\4d\13\0d\38\53\54\73\0a\65\bb\0a\6a\76\2e\c9\c2\81\85\2c\72\92"
    "\a1\e8\bf\a2\4b\66\1a\a8\70\8b\4b\c2\a3\51\6c\c7\19\e8\92\d1\24\06\99\d6\85\35\0e\f4\70\a0\6a\10"
    "\16\c1\a4\19\08\6c\37\1e\4c\77\48\27\b5\bc\b0\34\b3\0c\1c\39\4a\aa\d8\4e\4f\ca\9c\5b\f3\6f\2e\68"
    "\ee\82\8f\74\6f\63\a5\78\14\78\c8\84\08\02\c7\8c\fa\ff\be\90\eb\6c\50\a4\f7\a3\f9\be\f2\78\71\c6")
  (data (i32.const 512)
    "\67\e6\09\6a\85\ae\67\bb\72\f3\6e\3c\3a\f5\4f\a5\7f\52\0e\51\8c\68\05\9b\ab\d9\83\1f\19\cd\e0\5b")

  ;; Read stdin into $IN (at most 255 bytes); returns the length.
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

  ;; Parse the first run of decimal digits in [ptr, ptr+len); -1 when there is none.
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

  (func $rotr (param $x i32) (param $n i32) (result i32)
    (i32.rotr (local.get $x) (local.get $n)))

  ;; $H := sha256(the 32 bytes whose big-endian words are $H) — one padded block.
  (func $sha256_of_h
    (local $i i32) (local $p i32) (local $w15 i32) (local $w2 i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32)
    (local $e i32) (local $f i32) (local $g i32) (local $h i32)
    (local $t1 i32) (local $t2 i32)
    ;; message block: 8 words of H, then 0x80 pad, zeros, bit length 256
    (local.set $i (i32.const 0))
    (loop $copy
      (i32.store (i32.add (global.get $W) (i32.shl (local.get $i) (i32.const 2)))
                 (i32.load (i32.add (global.get $H) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $copy (i32.lt_u (local.get $i) (i32.const 8))))
    (i32.store offset=32 (global.get $W) (i32.const 0x80000000))
    (i32.store offset=36 (global.get $W) (i32.const 0))
    (i32.store offset=40 (global.get $W) (i32.const 0))
    (i32.store offset=44 (global.get $W) (i32.const 0))
    (i32.store offset=48 (global.get $W) (i32.const 0))
    (i32.store offset=52 (global.get $W) (i32.const 0))
    (i32.store offset=56 (global.get $W) (i32.const 0))
    (i32.store offset=60 (global.get $W) (i32.const 256))
    ;; schedule
    (local.set $i (i32.const 16))
    (loop $expand
      (local.set $p (i32.add (global.get $W) (i32.shl (local.get $i) (i32.const 2))))
      (local.set $w15 (i32.load (i32.sub (local.get $p) (i32.const 60))))
      (local.set $w2 (i32.load (i32.sub (local.get $p) (i32.const 8))))
      (i32.store (local.get $p)
        (i32.add
          (i32.add (i32.load (i32.sub (local.get $p) (i32.const 64)))
                   (i32.xor (i32.xor (call $rotr (local.get $w15) (i32.const 7)) (call $rotr (local.get $w15) (i32.const 18)))
                            (i32.shr_u (local.get $w15) (i32.const 3))))
          (i32.add (i32.load (i32.sub (local.get $p) (i32.const 28)))
                   (i32.xor (i32.xor (call $rotr (local.get $w2) (i32.const 17)) (call $rotr (local.get $w2) (i32.const 19)))
                            (i32.shr_u (local.get $w2) (i32.const 10))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $expand (i32.lt_u (local.get $i) (i32.const 64))))
    ;; rounds
    (local.set $a (i32.load offset=0 (global.get $IV)))
    (local.set $b (i32.load offset=4 (global.get $IV)))
    (local.set $c (i32.load offset=8 (global.get $IV)))
    (local.set $d (i32.load offset=12 (global.get $IV)))
    (local.set $e (i32.load offset=16 (global.get $IV)))
    (local.set $f (i32.load offset=20 (global.get $IV)))
    (local.set $g (i32.load offset=24 (global.get $IV)))
    (local.set $h (i32.load offset=28 (global.get $IV)))
    (local.set $i (i32.const 0))
    (loop $round
      (local.set $t1
        (i32.add
          (i32.add (local.get $h)
                   (i32.xor (i32.xor (call $rotr (local.get $e) (i32.const 6)) (call $rotr (local.get $e) (i32.const 11)))
                            (call $rotr (local.get $e) (i32.const 25))))
          (i32.add
            (i32.xor (i32.and (local.get $e) (local.get $f))
                     (i32.and (i32.xor (local.get $e) (i32.const -1)) (local.get $g)))
            (i32.add (i32.load (i32.add (global.get $K) (i32.shl (local.get $i) (i32.const 2))))
                     (i32.load (i32.add (global.get $W) (i32.shl (local.get $i) (i32.const 2))))))))
      (local.set $t2
        (i32.add
          (i32.xor (i32.xor (call $rotr (local.get $a) (i32.const 2)) (call $rotr (local.get $a) (i32.const 13)))
                   (call $rotr (local.get $a) (i32.const 22)))
          (i32.xor (i32.xor (i32.and (local.get $a) (local.get $b)) (i32.and (local.get $a) (local.get $c)))
                   (i32.and (local.get $b) (local.get $c)))))
      (local.set $h (local.get $g))
      (local.set $g (local.get $f))
      (local.set $f (local.get $e))
      (local.set $e (i32.add (local.get $d) (local.get $t1)))
      (local.set $d (local.get $c))
      (local.set $c (local.get $b))
      (local.set $b (local.get $a))
      (local.set $a (i32.add (local.get $t1) (local.get $t2)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $round (i32.lt_u (local.get $i) (i32.const 64))))
    (i32.store offset=0 (global.get $H) (i32.add (i32.load offset=0 (global.get $IV)) (local.get $a)))
    (i32.store offset=4 (global.get $H) (i32.add (i32.load offset=4 (global.get $IV)) (local.get $b)))
    (i32.store offset=8 (global.get $H) (i32.add (i32.load offset=8 (global.get $IV)) (local.get $c)))
    (i32.store offset=12 (global.get $H) (i32.add (i32.load offset=12 (global.get $IV)) (local.get $d)))
    (i32.store offset=16 (global.get $H) (i32.add (i32.load offset=16 (global.get $IV)) (local.get $e)))
    (i32.store offset=20 (global.get $H) (i32.add (i32.load offset=20 (global.get $IV)) (local.get $f)))
    (i32.store offset=24 (global.get $H) (i32.add (i32.load offset=24 (global.get $IV)) (local.get $g)))
    (i32.store offset=28 (global.get $H) (i32.add (i32.load offset=28 (global.get $IV)) (local.get $h))))

  ;; Write [ptr, ptr+len) to stdout, looping over short writes.
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

  (func $hex_digit (param $v i32) (result i32)
    (i32.add (local.get $v) (select (i32.const 48) (i32.const 87) (i32.lt_u (local.get $v) (i32.const 10)))))

  (func (export "_start")
    (local $n i64) (local $i i32) (local $j i32) (local $w i32)
    (local.set $n (call $parse_u64 (global.get $IN) (call $read_stdin)))
    (if (i64.lt_s (local.get $n) (i64.const 0)) (then (call $proc_exit (i32.const 2))))
    (memory.fill (global.get $H) (i32.const 0) (i32.const 32))
    (block $done
      (loop $iter
        (br_if $done (i64.eqz (local.get $n)))
        (call $sha256_of_h)
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $iter)))
    ;; hex: word by word, most significant nibble first
    (local.set $i (i32.const 0))
    (loop $word
      (local.set $w (i32.load (i32.add (global.get $H) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $j (i32.const 0))
      (loop $nib
        (i32.store8 (i32.add (global.get $OUT) (i32.add (i32.shl (local.get $i) (i32.const 3)) (local.get $j)))
          (call $hex_digit (i32.shr_u (local.get $w) (i32.sub (i32.const 28) (i32.shl (local.get $j) (i32.const 2))))))
        (local.set $w (i32.and (local.get $w) (i32.sub (i32.shl (i32.const 1) (i32.sub (i32.const 28) (i32.shl (local.get $j) (i32.const 2)))) (i32.const 1))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $nib (i32.lt_u (local.get $j) (i32.const 8))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $word (i32.lt_u (local.get $i) (i32.const 8))))
    (i32.store8 offset=64 (global.get $OUT) (i32.const 10))
    (call $write_all (global.get $OUT) (i32.const 65)))
)
