package console

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

// Interrupts returns a context that ends at the first of sigs (SIGINT,
// SIGTERM…), when the command starts a clean shutdown, saying on w that
// it does and that a second interrupt quits at once. A second signal
// while the shutdown runs says so and exits the process at once with
// status 130. stop releases the signals.
func Interrupts(prog string, w *os.File, sigs ...os.Signal) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	c := make(chan os.Signal, 2)
	signal.Notify(c, sigs...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-c:
			nl := ""
			if IsTerminal(w) {
				nl = "\n" // off the progress line, and off the ^C the terminal echoed
			}
			fmt.Fprintf(w, "%s%s: %v: stopping cleanly; interrupt again to quit at once\n", nl, prog, s)
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-c:
			fmt.Fprintf(w, "%s: %v again: quitting at once\n", prog, s)
			os.Exit(130)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(c)
		close(done)
		cancel()
	}
}
