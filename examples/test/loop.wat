;; Never returns: the sandbox must stop it with WASM_TIMEOUT.
(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $forever (br $forever))))
