// Package browsertest drives the seeder's class page in headless Chromium
// while real leecher processes fetch a share. It is a module of its own
// (see go.mod), so that the browser driver it needs is not a requirement
// of the p2pshare module; scripts/check runs it after the module's tests.
package browsertest
