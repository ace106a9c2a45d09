//go:build !race

package p2pshare

const raceEnabled = false
