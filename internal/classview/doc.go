// Package classview is the teacher's view of a class fetching a share: it
// turns the status reports members send the bootstrap into, per member, a
// state (fetching, done, seeding, stalled, gone) and, per share, the class's
// progress, the lower bound T* on its completion time and a projected
// finish. It decides and does no I/O: the caller passes the time of every
// report and every question in, so it runs on a virtual clock in tests.
package classview
