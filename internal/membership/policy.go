package membership

// The teacher's rules on who may take which name, beside the token's own
// checks (checkJoin). One invite shared by a class admits as many
// identities as it has uses, under any free name, so a student holding it
// could join as s1001…s1060 and take classmates' roll numbers. These rules
// bind names:
//
//   - an allow-list: only its names may join with a shared invite;
//   - per-student invites (InviteOptions.Name): one use, for that name
//     only; while one is outstanding, no shared invite may take its name;
//   - a cap on the members one source address has had admitted with
//     shared invites (a whole class behind one NAT is one address, so it
//     is off by default).
//
// Approval by the teacher (BootstrapConfig.Approve) comes after these.

// namePolicy is the part of the rules that is configuration: the allow
// list and the per-address cap.
type namePolicy struct {
	Allow      map[string]bool // nameKey → on the list; nil: any name may join
	MaxPerAddr int             // members one address may have admitted with shared invites; 0: no cap
}

// nameFacts is what the registry knows of one join when it applies the
// policy.
type nameFacts struct {
	Name      string
	Token     string // hex token ID
	TokenName string // the name the token is bound to; "" for a shared invite
	NameBound bool   // an outstanding per-student invite is bound to Name
	Addr      string // the newcomer's source address ("" if unknown)
	FromAddr  int    // members admitted with shared invites from Addr so far
}

// check decides f against the policy. It does no I/O; its errors are
// refusals the newcomer reads, naming the rule.
func (p namePolicy) check(f nameFacts) error {
	key := nameKey(f.Name)
	if f.TokenName != "" {
		// The teacher named the student: the allow-list and the cap are
		// for shared invites.
		if key != nameKey(f.TokenName) {
			return refuse("the invite with token %s is for %q only, not %q", f.Token, f.TokenName, f.Name)
		}
		return nil
	}
	if f.NameBound {
		return refuse("name %q is reserved for the student's own invite; ask the teacher for it", f.Name)
	}
	if p.Allow != nil && !p.Allow[key] {
		return refuse("name %q is not on this network's list of names; ask the teacher to add it", f.Name)
	}
	if p.MaxPerAddr > 0 && f.FromAddr >= p.MaxPerAddr {
		return refuse("address %s already has %d members admitted with a shared invite, the most this bootstrap takes from one address; ask the teacher for an invite of your own",
			f.Addr, f.FromAddr)
	}
	return nil
}
