module ctxscope.dev/bench/go

go 1.19
