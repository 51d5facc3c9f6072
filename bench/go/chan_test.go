// Go peers of bench/runtime/chan_bench.cpp (same names, same shapes).
package bench

import "testing"

const bufferedCap = 128

// One producer goroutine streams b.N ints through a channel of capacity 128 to
// the benchmarking goroutine.  ns/op is per element.
func BenchmarkChanBufferedThroughput(b *testing.B) {
	ch := make(chan int, bufferedCap)
	n := b.N
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
	_ = sum
}

// Ping-pong over two unbuffered channels with an echo goroutine.  ns/op is
// one round trip (two rendezvous).
func BenchmarkChanUnbufferedPingPong(b *testing.B) {
	ping := make(chan int)
	pong := make(chan int)
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
}
