//go:build race

package p2pshare

// raceEnabled: the race detector slows every handshake several times.
const raceEnabled = true
