package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/store/postgres"
)

// TestListInvocationsFilters: the list is filtered by plugin, version,
// status, owner and a window of creation times (since inclusive, until
// exclusive), and pages through what the filters select without losing or
// repeating a row.
func TestListInvocationsFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	bob := createUser(t, db, "bob@example.com", orc.RoleDeveloper)
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	create := func(owner *orc.Principal, plugin, version string, minutes int) string {
		t.Helper()
		inv := newInvocation(owner, "")
		inv.Plugin, inv.Version, inv.CreatedAt = plugin, version, at(minutes)
		created, _, err := db.CreateInvocation(ctx, inv)
		if err != nil {
			t.Fatal(err)
		}
		return created.ID
	}
	a1 := create(alice, "echo", "1.0.0", 0)
	a2 := create(alice, "echo", "2.0.0", 10)
	a3 := create(alice, "echo", "1.0.0", 20)
	a4 := create(alice, "sum", "1.0.0", 30)
	b1 := create(bob, "echo", "1.0.0", 15)
	b2 := create(bob, "echo", "1.0.0", 25)
	if _, err := db.CancelInvocation(ctx, a3, at(21)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		f    orc.InvocationFilter
		want []string // newest first
	}{
		{"all", orc.InvocationFilter{}, []string{a4, b2, a3, b1, a2, a1}},
		{"plugin", orc.InvocationFilter{Plugin: "echo"}, []string{b2, a3, b1, a2, a1}},
		{"version", orc.InvocationFilter{Plugin: "echo", Version: "1.0.0"}, []string{b2, a3, b1, a1}},
		{"version of another plugin", orc.InvocationFilter{Plugin: "sum", Version: "1.0.0"}, []string{a4}},
		{"unknown version", orc.InvocationFilter{Plugin: "echo", Version: "3.0.0"}, nil},
		{"since is inclusive", orc.InvocationFilter{Since: at(20)}, []string{a4, b2, a3}},
		{"until is exclusive", orc.InvocationFilter{Until: at(10)}, []string{a1}},
		{"window", orc.InvocationFilter{Since: at(10), Until: at(25)}, []string{a3, b1, a2}},
		{"empty window", orc.InvocationFilter{Since: at(10), Until: at(10)}, nil},
		{"window, version and status", orc.InvocationFilter{Plugin: "echo", Version: "1.0.0", Since: at(5),
			Statuses: []orc.Status{orc.StatusQueued}}, []string{b2, b1}},
		// A developer's list is their own (the gateway sets OwnerID): no
		// filter reaches another's invocations.
		{"own, by version", orc.InvocationFilter{OwnerID: alice.UserID, Plugin: "echo", Version: "1.0.0"}, []string{a3, a1}},
		{"own, in another's window", orc.InvocationFilter{OwnerID: alice.UserID, Since: at(11), Until: at(20)}, nil},
		{"another's", orc.InvocationFilter{OwnerID: bob.UserID, Plugin: "echo", Since: at(0)}, []string{b2, b1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := listIDs(t, db, tt.f); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}

	// Two at a time through a window and a version: every page keeps the
	// filters, and the pages together are the unpaged list.
	f := orc.InvocationFilter{Plugin: "echo", Version: "1.0.0", Since: at(0), Until: at(25), Limit: 2}
	var paged []string
	for pages := 0; ; pages++ {
		if pages == 3 {
			t.Fatalf("more pages than rows: %v", paged)
		}
		list, next, err := db.ListInvocations(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range list {
			paged = append(paged, inv.ID)
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if want := []string{a3, b1, a1}; !slices.Equal(paged, want) {
		t.Fatalf("paged %v, want %v", paged, want)
	}
}

// listIDs returns the ids of the invocations f selects, on one page.
func listIDs(t *testing.T, db *postgres.DB, f orc.InvocationFilter) []string {
	t.Helper()
	list, next, err := db.ListInvocations(context.Background(), f)
	if err != nil || next != "" {
		t.Fatalf("list: %v (next %q)", err, next)
	}
	var ids []string
	for _, inv := range list {
		ids = append(ids, inv.ID)
	}
	return ids
}

// TestListInvocationsVersionIsExact: a version selects itself only, not
// its neighbours in sort order, for everyone's list and for one owner's.
func TestListInvocationsVersionIsExact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	var want string
	for _, v := range []string{"1.0", "1.0.0-rc.1", "1.0.0", "1.0.0+build", "1.0.00", "1.0.0 "} {
		inv := newInvocation(alice, "")
		inv.Version = v
		created, _, err := db.CreateInvocation(ctx, inv)
		if err != nil {
			t.Fatal(err)
		}
		if v == "1.0.0" {
			want = created.ID
		}
	}
	for _, owner := range []int64{0, alice.UserID} {
		got := listIDs(t, db, orc.InvocationFilter{Plugin: "echo", Version: "1.0.0", OwnerID: owner})
		if !slices.Equal(got, []string{want}) {
			t.Errorf("owner %d: got %v, want %v", owner, got, want)
		}
	}
}
