// Go peers of bench/runtime/context_bench.cpp.  Each benchmark mirrors the C++
// one of the same name line for line, so bench/compare_go.sh can print ratios.
// Standard library only: the module builds offline (GOPROXY=off).
package bench

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// WithCancel + cancel, the parent being a live cancelable context, so the
// child registers with it and unregisters on cancel (the common shape).
func BenchmarkWithCancelFromCancelableParent(b *testing.B) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, cancel := context.WithCancel(parent)
		cancel()
	}
}

const treeChildren = 10000

// Cancelling a parent that has 10,000 live children: only the cancel is
// timed; building the tree happens with the timer stopped.
func BenchmarkCancelParent10kChildren(b *testing.B) {
	cancels := make([]context.CancelFunc, treeChildren)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		parent, cancelParent := context.WithCancel(context.Background())
		for j := range cancels {
			_, cancels[j] = context.WithCancel(parent)
		}
		b.StartTimer()
		cancelParent()
		b.StopTimer()
		for j := range cancels {
			cancels[j]() // no-ops: already cancelled through the parent
			cancels[j] = nil
		}
		b.StartTimer()
	}
}

// The whole tree: create 10,000 children of a cancelable parent, cancel the
// parent.  ns/op is per tree.
func BenchmarkTree10kCreateAndCancel(b *testing.B) {
	cancels := make([]context.CancelFunc, treeChildren)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		parent, cancelParent := context.WithCancel(context.Background())
		for j := range cancels {
			_, cancels[j] = context.WithCancel(parent)
		}
		cancelParent()
	}
}

// ctx.Err() on a live cancelable context.
func BenchmarkErrLive(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	for i := 0; i < b.N; i++ {
		err = ctx.Err()
	}
	if err != nil {
		b.Fatal(err)
	}
}

// The done check Go code writes: a non-blocking receive on ctx.Done().
func BenchmarkDoneSelectLive(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := 0
	for i := 0; i < b.N; i++ {
		select {
		case <-ctx.Done():
			done++
		default:
		}
	}
	if done != 0 {
		b.Fatal("done")
	}
}

// WithTimeout + cancel, one pair per op, single goroutine.
func BenchmarkWithTimeoutCancelPair(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, cancel := context.WithTimeout(context.Background(), time.Hour)
		cancel()
	}
}

// Go's own context.BenchmarkWithTimeout (src/context/benchmark_test.go),
// concurrency=40: 40 timers already pending, then GOMAXPROCS goroutines each
// create 10 timeout contexts and cancel them per op.  ns/op is per 10 pairs;
// compare_go.sh divides by 10.
func BenchmarkWithTimeout(b *testing.B) {
	const concurrentContexts = 40
	gomaxprocs := runtime.GOMAXPROCS(0)
	perPContexts := concurrentContexts / gomaxprocs
	root := context.Background()

	var wg sync.WaitGroup
	ccf := make([][]context.CancelFunc, gomaxprocs)
	for i := range ccf {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cf := make([]context.CancelFunc, perPContexts)
			for j := range cf {
				_, cf[j] = context.WithTimeout(root, time.Hour)
			}
			ccf[i] = cf
		}(i)
	}
	wg.Wait()

	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		wcf := make([]context.CancelFunc, 10)
		for pb.Next() {
			for i := range wcf {
				_, wcf[i] = context.WithTimeout(root, time.Hour)
			}
			for _, f := range wcf {
				f()
			}
		}
	})
	b.StopTimer()

	for _, cf := range ccf {
		for _, f := range cf {
			f()
		}
	}
}

// foreignCtx is a Context that is none of the package's own types (its own
// done channel, no embedded cancelCtx): Go cannot hook into its cancellation,
// so propagateCancel starts one goroutine per child to watch parent.Done().
// ctxscope has no such case (no thread per context); this benchmark documents
// the cost Go pays there.
type foreignCtx struct{ done chan struct{} }

func (foreignCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c foreignCtx) Done() <-chan struct{}     { return c.done }
func (foreignCtx) Value(key any) any           { return nil }
func (c foreignCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// settledGoroutines waits until watcher goroutines of cancelled contexts have
// exited (they leave asynchronously) and returns the goroutine count.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for stable := 0; stable < 5; {
		time.Sleep(time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			stable++
		} else {
			stable = 0
		}
		n = m
	}
	return n
}

// Goroutines added by 10,000 WithTimeout children: of a foreign parent
// ("goroutines" metric), and of Background ("goroutines_bg").
func BenchmarkGoroutinesPer10kTimeoutChildren(b *testing.B) {
	for i := 0; i < b.N; i++ {
		parent := foreignCtx{make(chan struct{})}
		before := settledGoroutines()
		cancels := make([]context.CancelFunc, treeChildren)
		for j := range cancels {
			_, cancels[j] = context.WithTimeout(parent, time.Hour)
		}
		during := runtime.NumGoroutine()
		for _, c := range cancels {
			c()
		}
		close(parent.done)

		beforeBg := settledGoroutines()
		for j := range cancels {
			_, cancels[j] = context.WithTimeout(context.Background(), time.Hour)
		}
		duringBg := runtime.NumGoroutine()
		for _, c := range cancels {
			c()
		}
		b.ReportMetric(float64(during-before), "goroutines")
		b.ReportMetric(float64(duringBg-beforeBg), "goroutines_bg")
	}
}

// Live heap bytes per WithCancel child of a cancelable parent (10,000 kept
// alive; includes the parent's children-map share), measured after a GC:
// the peer of ctxscope_bench_runtime's with_cancel_usable_bytes.
func BenchmarkBytesPerLiveWithCancel(b *testing.B) {
	var perCtx float64
	for i := 0; i < b.N; i++ {
		parent, cancelParent := context.WithCancel(context.Background())
		ctxs := make([]context.Context, treeChildren)
		cancels := make([]context.CancelFunc, treeChildren)
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		for j := range cancels {
			ctxs[j], cancels[j] = context.WithCancel(parent)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		perCtx = float64(m1.HeapAlloc-m0.HeapAlloc) / treeChildren
		runtime.KeepAlive(ctxs)
		for _, c := range cancels {
			c()
		}
		cancelParent()
	}
	b.ReportMetric(perCtx, "B/ctx")
}
