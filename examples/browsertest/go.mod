// The browser test of the class page lives in a module of its own, so
// that chromedp, which only this test needs, is no requirement of
// github.com/p2pshare/p2pshare and never reaches a program that imports it.
module github.com/p2pshare/p2pshare/examples/browsertest

go 1.26.0

require github.com/chromedp/chromedp v0.23.0

require (
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
)
