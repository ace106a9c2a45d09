package picker

// DefaultMaxLinks is the most links a fetch dials unless told otherwise.
const DefaultMaxLinks = 60

// LinkTarget is how many links a fetch of a share of pieces pieces dials
// up to: one for every eight pieces beyond the first 16, at least six, at
// most maxLinks. A member's links are there to trade pieces, and each costs
// a connection, its handshakes, and a Have for every piece either side
// gets; a member also accepts the links others dial, so it ends up with
// about twice its target. For a share of 64 pieces (a 2 MiB quiz) to a
// class of 50 on two cores, eight dialled links spent the CPU on Haves,
// four left the last members short of sources when the CPU was not the
// limit (a class at a quarter of the quiz's rates), and six did as well as
// the better of the two in both. A share of 512 pieces or more dials
// maxLinks. The swarm's fetches and the simulator's students both link by
// it.
func LinkTarget(pieces, maxLinks int) int {
	return min(maxLinks, max(6, (pieces-16)/8))
}
