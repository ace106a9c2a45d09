package mailbox

// ItemBytes is the size of it in a request or response.
func ItemBytes(it Item) int {
	return 2 + len(it.Sender) + 8 + 2 + len(it.Cert) + 2 + len(it.Sig) + 4 + len(it.Sealed)
}

// Batches splits items, in their order, into runs of at most budget bytes
// each; an item larger than budget is a run of its own. A holder passes
// an inbox on in these, and hands its owner one of them per request.
func Batches(items []Item, budget int) [][]Item {
	var out [][]Item
	start, size := 0, 0
	for i, it := range items {
		n := ItemBytes(it)
		if i > start && size+n > budget {
			out = append(out, items[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(items) {
		out = append(out, items[start:])
	}
	return out
}

// Page is the reply to an OpTake that leaves out skip: the first run of
// the other items within budget bytes, and whether more are left. ids are
// the IDs of items, in the same order.
func Page(ids []ItemID, items []Item, skip []ItemID, budget int) ([]Item, bool) {
	left := make(map[ItemID]bool, len(skip))
	for _, id := range skip {
		left[id] = true
	}
	var rest []Item
	for i, it := range items {
		if !left[ids[i]] {
			rest = append(rest, it)
		}
	}
	runs := Batches(rest, budget)
	if len(runs) == 0 {
		return nil, false
	}
	return runs[0], len(runs) > 1
}
