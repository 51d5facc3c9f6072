// Go peers of bench/runtime/chan_bench.cpp (same names, same shapes).
package bench

import (
	"syscall"
	"testing"
)

const bufferedCap = 128

// processCPU is the CPU time of the whole process (every thread), as the C++
// benchmarks' proc_cpu_ns counter: reported per op as cpu-ns/op.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func reportCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

// One producer goroutine streams b.N ints through a channel of capacity 128 to
// the benchmarking goroutine.  ns/op is per element.
func BenchmarkChanBufferedThroughput(b *testing.B) {
	ch := make(chan int, bufferedCap)
	n := b.N
	cpu := processCPU()
	go func() {
		for i := 0; i < n; i++ {
			ch <- i
		}
		close(ch)
	}()
	sum := 0
	for i := 0; i < n; i++ {
		sum += <-ch
	}
	if _, ok := <-ch; ok {
		b.Fatal("extra value")
	}
	reportCPU(b, cpu)
	_ = sum
}

// Ping-pong over two unbuffered channels with an echo goroutine.  ns/op is
// one round trip (two rendezvous).
func BenchmarkChanUnbufferedPingPong(b *testing.B) {
	ping := make(chan int)
	pong := make(chan int)
	cpu := processCPU()
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	for i := 0; i < b.N; i++ {
		ping <- i
		if v := <-pong; v != i {
			b.Fatal("wrong value")
		}
	}
	close(ping)
	<-pong
	reportCPU(b, cpu)
}
