;; Grows memory one page at a time without bound; traps when a grow is refused (WASM_MEMORY).
;; Declares no maximum, so the sandbox's cap is what stops it.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $more
      (if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)) (then (unreachable)))
      (br $more))))
