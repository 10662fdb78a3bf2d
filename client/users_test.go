package client_test

import (
	"errors"
	"testing"

	"github.com/stratalog/strata/client"
)

// TestAdminUsers: SetUser, ListUsers and DeleteUser on each test broker (both keep SCRAM
// credentials), with ErrInvalid and ErrNotFound where they apply.
func TestAdminUsers(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		a := newAdmin(t, addr)
		ctx := testCtx(t)
		if err := a.SetUser(ctx, "alice", "pw", 0); err != nil {
			t.Fatal(err)
		}
		if err := a.SetUser(ctx, "bob", "pw", 8192, client.ScramSHA512); err != nil {
			t.Fatal(err)
		}
		users, err := a.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 2 || users[0].Name != "alice" || len(users[0].Mechanisms) != 2 || users[0].Mechanisms[0] != (client.UserMechanism{Mechanism: client.ScramSHA256, Iterations: 4096}) ||
			users[1].Name != "bob" || len(users[1].Mechanisms) != 1 || users[1].Mechanisms[0] != (client.UserMechanism{Mechanism: client.ScramSHA512, Iterations: 8192}) {
			t.Fatalf("users %+v", users)
		}
		for _, err := range []error{
			a.SetUser(ctx, "carol", "", 0),
			a.SetUser(ctx, "carol", "pw", 100),
			a.SetUser(ctx, "carol", "pw", 0, "SCRAM-SHA-1"),
		} {
			if !errors.Is(err, client.ErrInvalid) {
				t.Errorf("%v, want ErrInvalid", err)
			}
		}
		if err := a.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := a.DeleteUser(ctx, "alice"); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("delete a deleted user: %v, want ErrNotFound", err)
		}
		if users, err := a.ListUsers(ctx); err != nil || len(users) != 1 || users[0].Name != "bob" {
			t.Fatalf("after delete: %+v, %v", users, err)
		}
	})
}
