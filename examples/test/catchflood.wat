;; Uses wasm exception handling to catch the host's abort when stdout passes the limit, then
;; exits 0 as if nothing happened: the sandbox must still report WASM_OUTPUT_LIMIT.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $write_block
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (memory.fill (i32.const 1024) (i32.const 121) (i32.const 1000))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 1000))
    (try
      (do
        (loop $more
          (call $write_block)
          (br $more)))
      (catch_all))))
