package postgres_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

func TestPolicyStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	admin := createUser(t, db, "admin@example.com", orc.RoleAdmin)
	dev := createUser(t, db, "dev@example.com", orc.RoleDeveloper)
	other := createUser(t, db, "other@example.com", orc.RoleDeveloper)

	got, err := db.Policy(ctx)
	if err != nil || !reflect.DeepEqual(got, orc.DefaultPolicy()) {
		t.Fatalf("no policy set: %+v, %v; want the default", got, err)
	}
	p := orc.DefaultPolicy()
	p.Images = []string{"registry.example.com/**"}
	p.UpdatedBy = admin.UserID
	if err := db.SetPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err = db.Policy(ctx)
	if err != nil || !reflect.DeepEqual(got.Images, p.Images) || got.UpdatedBy != admin.UserID || time.Since(got.UpdatedAt) > time.Minute {
		t.Fatalf("policy read back: %+v, %v", got, err)
	}

	// The first to claim a pool owns it.
	if owner, err := db.ClaimPool(ctx, "team-a", dev.UserID); err != nil || owner != dev.UserID {
		t.Fatalf("claim: %d, %v", owner, err)
	}
	if owner, err := db.ClaimPool(ctx, "team-a", other.UserID); err != nil || owner != dev.UserID {
		t.Fatalf("a second claim: %d, %v; want the first owner", owner, err)
	}

	// Usage and images.
	for _, name := range []string{"one", "two"} {
		if _, err := db.CreateVersion(ctx, dev, poolVersion(name, "1.0.0", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.CreateVersion(ctx, dev, poolVersion("one", "2.0.0", nil)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAPIKey(ctx, &orc.APIKey{UserID: dev.UserID, Prefix: "abcdefabcdef", Hash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	u, err := db.Usage(ctx, dev.UserID)
	if err != nil || *u != (orc.Usage{Plugins: 2, Versions: 3, APIKeys: 1}) {
		t.Fatalf("usage = %+v, %v", u, err)
	}
	users, err := db.ImageUsers(ctx, "one:1.0.0")
	if err != nil || len(users) != 1 || users[0] != dev.UserID {
		t.Fatalf("image users = %v, %v", users, err)
	}
	if users, err := db.ImageUsers(ctx, "nobody:1"); err != nil || len(users) != 0 {
		t.Fatalf("unused image: %v, %v", users, err)
	}
}
