package picker

// DefaultMaxLinks is the most links a fetch dials unless told otherwise.
// A class of 1000 fetching a 5 GB image, simulated from its start (three
// seeds each), finished in 1.089-1.090 T* with 20 links a student,
// 1.096-1.098 with 30, 1.099-1.111 with 40 and 1.117-1.120 with 60; a
// class of 30, where 30 links are all its members, is as with 60.
const DefaultMaxLinks = 30

// LinkTarget is how many links a fetch of a share of pieces pieces dials
// up to: one for every eight pieces beyond the first 16, at least six, at
// most maxLinks. A member's links are there to trade pieces, and each costs
// a connection, its handshakes, and a Have for every piece either side
// gets; a member also accepts the links others dial, so it ends up with
// about twice its target. For a share of 64 pieces (a 2 MiB quiz) to a
// class of 50 on two cores, eight dialled links spent the CPU on Haves,
// four left the last members short of sources when the CPU was not the
// limit (a class at a quarter of the quiz's rates), and six did as well as
// the better of the two in both. A share of 256 pieces or more dials
// maxLinks (DefaultMaxLinks, 30). The swarm's fetches and the simulator's students both link by
// it.
func LinkTarget(pieces, maxLinks int) int {
	return min(maxLinks, max(6, (pieces-16)/8))
}
