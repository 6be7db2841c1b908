package merge

import "sync"

// parallel calls, for every i in [0, n), a function made by newWorker, on
// at most workers goroutines; each goroutine makes its own function, so
// it can keep state (buffers, cursors) without sharing it. It returns when
// every call has.
func parallel(n, workers int, newWorker func() func(i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n); w++ {
		do := newWorker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				do(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
}
