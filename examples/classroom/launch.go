package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// nodeEvent is a node's report, or its exit, for the classroom's loop.
type nodeEvent struct {
	node int // 0 is the seeder, 1 to N the leechers
	r    report
	exit bool    // the node has stopped; r is empty
	err  error   // why it failed, if exit
	cpu  float64 // if exit, the CPU seconds a node process used; 0 in-process
}

// launcher starts nodes that send their events to one channel. A leecher
// joins the network and reports "joined", then waits for begin before it
// fetches, so the whole class starts its fetch at one instant, as an exam
// app's students do when the quiz is handed out; stop asks a node to stop.
// Its nodes end at the latest when ctx ends.
type launcher interface {
	start(ctx context.Context, node int, o nodeOptions) (begin, stop func(), err error)
}

// processes runs each node as a child process of this binary.
type processes struct {
	exe    string
	events chan<- nodeEvent
}

func (p processes) start(ctx context.Context, node int, o nodeOptions) (func(), func(), error) {
	return p.startCommand(ctx, node, o, p.exe)
}

// startCommand starts node as argv followed by the node command and its
// flags: argv is this binary, or a command that becomes it.
func (p processes) startCommand(ctx context.Context, node int, o nodeOptions, argv ...string) (func(), func(), error) {
	cmd := exec.CommandContext(ctx, argv[0], append(append(argv[1:len(argv):len(argv)], nodeCommand), o.args()...)...)
	// On ctx's end, ask nicely first, then kill; on Windows, where Interrupt
	// cannot be sent, the kill comes after WaitDelay.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting %s node %d: %w", o.role, node, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r report
			if err := json.Unmarshal(sc.Bytes(), &r); err == nil {
				p.events <- nodeEvent{node: node, r: r}
			}
		}
		err := cmd.Wait()
		if err != nil {
			if msg := lastLine(stderr.String()); msg != "" {
				err = fmt.Errorf("%s (%v)", msg, err)
			}
		}
		p.events <- nodeEvent{node: node, exit: true, err: err, cpu: processCPUSeconds(cmd.ProcessState)}
	}()
	// A line on stdin is the go-ahead; closing stdin is the stop request
	// every platform understands.
	return func() { _, _ = io.WriteString(stdin, "begin\n") }, func() { stdin.Close() }, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// goroutines runs every node in this process, one goroutine each.
type goroutines struct {
	events chan<- nodeEvent
}

func (g goroutines) start(ctx context.Context, node int, o nodeOptions) (func(), func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	begin := make(chan struct{})
	var once sync.Once
	go func() {
		err := runNode(ctx, o, begin, func(r report) { g.events <- nodeEvent{node: node, r: r} })
		if err != nil {
			err = fmt.Errorf("classroom %s: %w", o.role, err)
		}
		g.events <- nodeEvent{node: node, exit: true, err: err}
		cancel()
	}()
	return func() { once.Do(func() { close(begin) }) }, cancel, nil
}
