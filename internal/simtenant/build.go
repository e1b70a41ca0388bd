package simtenant

import (
	"fmt"
	"strings"
	"time"
)

// Item operations per type, chosen to resemble what each kind of activity
// does on a real tenant.
var typeOps = map[string][]string{
	"Identity Refresh":                  {"ADD", "ADD", "REMOVE", "CREATE", "MODIFY"},
	"appRequest":                        {"ADD", "ADD", "ADD", "ADD", "REMOVE"},
	"Attribute Synchronization Refresh": {"SET", "SET", "MODIFY"},
	"AccountAttributeUpdate":            {"MODIFY", "SET"},
	"CloudAutomated":                    {"DISABLE", "ENABLE", "CREATE", "MODIFY"},
	"Lifecycle Change Refresh":          {"DISABLE", "ENABLE", "ADD", "REMOVE"},
	"IdentityAttributeUpdate":           {"MODIFY", "SET"},
	"LifecycleStateChange":              {"DISABLE", "ENABLE", "CREATE", "DELETE"},
	"CloudPasswordRequest":              {"MODIFY"},
	"AccountStateUpdate":                {"LOCK", "UNLOCK", "DISABLE", "ENABLE"},
	"Certification":                     {"REMOVE"},
}

var typeMaxItems = map[string]int{
	"Identity Refresh": 6, "appRequest": 4, "Attribute Synchronization Refresh": 4,
	"AccountAttributeUpdate": 2, "CloudAutomated": 5, "Lifecycle Change Refresh": 5,
	"IdentityAttributeUpdate": 3, "LifecycleStateChange": 5, "CloudPasswordRequest": 4,
	"AccountStateUpdate": 2, "Certification": 3,
}

// systemInitiated types are started by ISC itself, so they often carry no
// requester.
var systemInitiated = map[string]bool{
	"Identity Refresh": true, "Attribute Synchronization Refresh": true,
	"Lifecycle Change Refresh": true, "CloudAutomated": true,
}

type outcome int

const (
	outSuccess outcome = iota
	outFailure
	outIncomplete
	outTerminated
)

func (t *Tenant) chance(p float64) bool { return p > 0 && t.rng.Float64() < p }

func (t *Tenant) summary(p person) *IdentitySummary {
	return &IdentitySummary{ID: hexID(t.rng), Name: p.name(), IdentityID: p.id}
}

func (t *Tenant) systemSummary() *IdentitySummary {
	return &IdentitySummary{ID: hexID(t.rng), Name: "SailPoint Services", IdentityID: "ff80818155fe8c080155fe8d925b0316"}
}

// build creates a fresh EXECUTING activity of the given type (empty for a
// weighted pick) together with the plan the simulator will follow.
func (t *Tenant) build(at time.Time, typ string, allowNullType bool) (*Activity, *simState) {
	if typ == "" {
		typ = pickType(t.rng)
	}
	id := hexID(t.rng)
	target := pick(t.rng, t.people)
	a := &Activity{
		ID:              id,
		Name:            id,
		Created:         at,
		Modified:        Ptr(at),
		Type:            Ptr(typ),
		ExecutionStatus: ExecExecuting,
		Errors:          []string{},
		Warnings:        []string{},
		Cancelable:      typ == "appRequest",
	}
	if allowNullType && t.chance(t.edge.NullType) {
		a.Type = nil
	}
	if t.chance(0.5) {
		a.CompletionStatus = Ptr(CompletionPending)
	}
	if t.chance(t.edge.NullErrors) {
		a.Errors = nil
	}
	if t.chance(t.edge.NullErrors) {
		a.Warnings = nil
	}
	requester := target
	switch {
	case systemInitiated[typ] && t.chance(0.4):
		// no requester at all
	case systemInitiated[typ]:
		a.RequesterIdentitySummary = t.systemSummary()
	default:
		if t.chance(0.5) {
			requester = pick(t.rng, t.people)
		}
		a.RequesterIdentitySummary = t.summary(requester)
	}
	a.TargetIdentitySummary = t.summary(target)
	if typ == "appRequest" && t.chance(0.3) {
		a.ClientMetadata = map[string]string{"customKey1": "ticket-" + fmt.Sprint(10000+t.rng.IntN(90000)), "channel": pick(t.rng, []string{"portal", "slack", "api"})}
	}

	out := outSuccess
	switch r := t.rng.Float64(); {
	case r < 0.03:
		out = outTerminated
	case r < 0.11:
		out = outFailure
	case r < 0.14 || (typ == "appRequest" && r < 0.22):
		out = outIncomplete
	}
	sim := &simState{approval: typ == "appRequest", verify: t.chance(0.3), outcome: out}

	switch {
	case t.chance(t.edge.NullItems):
		return a, sim
	case t.chance(t.edge.EmptyItems):
		a.Items = []Item{}
		return a, sim
	}
	n := 1 + t.rng.IntN(typeMaxItems[typ])
	a.Items = make([]Item, n)
	sim.paths = make([][]string, n)
	sim.pos = make([]int, n)
	sim.reject = make([]bool, n)
	failAt := -1
	if out == outFailure {
		failAt = t.rng.IntN(n)
	}
	stuckAt := -1
	if out == outIncomplete {
		stuckAt = t.rng.IntN(n)
	}
	for i := range a.Items {
		a.Items[i] = t.buildItem(at, typ, requester, target)
		switch {
		case i == stuckAt && sim.approval:
			sim.reject[i] = true
			sim.paths[i] = []string{ProvPending}
		case i == stuckAt:
			sim.paths[i] = []string{ProvPending}
		case i == failAt || (out == outFailure && t.chance(0.3)):
			sim.paths[i] = t.failurePath()
		case t.health.inOutage(a.Items[i].SourceID, at) && t.chance(outageFailure):
			sim.paths[i] = t.failurePath()
		default:
			sim.paths[i] = t.successPath()
		}
		if t.chance(t.edge.UnknownEnums) && len(sim.paths[i]) > 1 {
			// QUEUED is not in the spec's ProvisioningState enum yet.
			sim.paths[i] = append([]string{ProvPending, "QUEUED"}, sim.paths[i][1:]...)
		}
	}
	if out == outTerminated {
		longest := 1
		for _, p := range sim.paths {
			longest = max(longest, len(p))
		}
		sim.terminateAt = 1 + t.rng.IntN(longest)
	}
	return a, sim
}

func (t *Tenant) successPath() []string {
	switch r := t.rng.IntN(100); {
	case r < 50:
		return []string{ProvPending, ProvCommited, ProvFinished}
	case r < 80:
		return []string{ProvPending, ProvFinished}
	case r < 88:
		return []string{ProvPending, ProvRetry, ProvFinished}
	case r < 93:
		return []string{ProvPending, ProvCommited, ProvUnverifiable}
	default:
		return []string{ProvPending, ProvRetry, ProvCommited, ProvFinished}
	}
}

func (t *Tenant) failurePath() []string {
	switch r := t.rng.IntN(100); {
	case r < 50:
		return []string{ProvPending, ProvFailed}
	case r < 80:
		return []string{ProvPending, ProvRetry, ProvFailed}
	case r < 90:
		return []string{ProvPending, ProvRetry, ProvRetry, ProvFailed}
	default:
		return []string{ProvPending, ProvCommited, ProvFailed}
	}
}

func (t *Tenant) buildItem(at time.Time, typ string, requester, target person) Item {
	src := &sourcesCatalog[t.rng.IntN(len(sourcesCatalog))]
	op := pick(t.rng, typeOps[typ])
	it := Item{
		ID:                 hexID(t.rng),
		Requested:          at,
		ProvisioningStatus: ProvPending,
		Operation:          Ptr(op),
		NativeIdentity:     Ptr(src.native(target)),
		SourceID:           src.id,
	}
	if t.chance(t.edge.NullOperation) {
		it.Operation = nil
	} else if t.chance(t.edge.UnknownEnums) {
		it.Operation = Ptr("RESET") // not in the spec's operation enum yet
	}
	switch op {
	case "ADD", "REMOVE":
		if t.chance(0.4) {
			v := pick(t.rng, accessNames)
			it.Attribute, it.Value = Ptr("detectedRoles"), Ptr(v)
		} else {
			it.Attribute, it.Value = Ptr(src.attrs[0]), Ptr(pick(t.rng, src.grants))
		}
	case "CREATE", "DELETE":
		// account-level operations name no attribute
	case "DISABLE", "ENABLE":
		it.Attribute, it.Value = Ptr("IIQDisabled"), Ptr(fmt.Sprint(op == "DISABLE"))
	case "LOCK", "UNLOCK":
		it.Attribute, it.Value = Ptr("IIQLocked"), Ptr(fmt.Sprint(op == "LOCK"))
	default:
		if typ == "CloudPasswordRequest" {
			it.Attribute = Ptr("password")
		} else if typ == "CloudAutomated" || typ == "IdentityAttributeUpdate" && t.chance(0.3) {
			it.Attribute, it.Value = Ptr("cloudLifecycleState"), Ptr(pick(t.rng, lifecycleStates))
		} else {
			it.Attribute = Ptr(pick(t.rng, src.attrs))
			it.Value = Ptr(pick(t.rng, []string{"Finance", "Treasury Analyst", "CC-4410", target.email(), "Senior Engineer"}))
		}
	}
	it.Name = src.name + " " + op
	if it.Value != nil {
		it.Name = *it.Value
	}
	if typ == "appRequest" || typ == "Certification" {
		kinds := []string{"ACCESS_PROFILE", "ROLE", "ENTITLEMENT"}
		name := it.Name
		it.AccountRequestInfo = &AccountRequestInfo{RequestedObjectID: hexID(t.rng), RequestedObjectName: name, RequestedObjectType: pick(t.rng, kinds)}
	}
	if typ == "appRequest" {
		it.ApprovalStatus = Ptr("PENDING")
		if t.chance(0.6) {
			it.RequesterComment = &Comment{CommenterID: requester.id, CommenterName: requester.name(), Body: pick(t.rng, commentBodies[:5]), Date: at}
		}
		if t.chance(0.3) {
			it.ClientMetadata = map[string]string{"requestedAppName": src.name, "requestedAppId": hexID(t.rng)}
		}
		if t.chance(0.15) {
			d := at.Add(time.Duration(30+t.rng.IntN(60)) * 24 * time.Hour).Truncate(24 * time.Hour)
			it.RemoveDate = &d
		}
	}
	return it
}

// connectorError renders one of the item's source's failure messages.
func (t *Tenant) connectorError(it *Item) string {
	for i := range sourcesCatalog {
		src := &sourcesCatalog[i]
		if src.id != it.SourceID {
			continue
		}
		native := ""
		if it.NativeIdentity != nil {
			native = *it.NativeIdentity
		}
		return strings.NewReplacer("{account}", native, "{client}", t.vaID).Replace(pick(t.rng, src.errors))
	}
	return "sailpoint.connector.ConnectorException: Unable to reach source " + it.SourceID
}
