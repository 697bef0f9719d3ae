package orc_test

import (
	"context"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// fakeInvocations answers as told; methods not set panic through the nil
// embedded interface.
type fakeInvocations struct {
	orc.InvocationService
	created, won bool
	err          error
}

func (f *fakeInvocations) CreateInvocation(_ context.Context, inv *orc.Invocation) (*orc.Invocation, bool, error) {
	out := *inv
	out.Status = orc.StatusQueued
	return &out, f.created, f.err
}

func (f *fakeInvocations) FinishInvocation(context.Context, string, *orc.Result) (bool, error) {
	return f.won, f.err
}

func (f *fakeInvocations) StartAttempt(_ context.Context, id, _, _ string, _ time.Time) (*orc.Invocation, error) {
	return &orc.Invocation{ID: id, Status: orc.StatusRunning, OwnerID: 7, Plugin: "p"}, f.err
}

type recorder []*orc.InvocationEvent

func (r *recorder) PublishEvent(e *orc.InvocationEvent) { *r = append(*r, e) }

func TestWithEvents(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		f    fakeInvocations
		call func(s orc.InvocationService)
		want []orc.Status
	}{
		{"created", fakeInvocations{created: true}, func(s orc.InvocationService) {
			s.CreateInvocation(ctx, &orc.Invocation{ID: "a", OwnerID: 7}) //nolint:errcheck // the fake answers
		}, []orc.Status{orc.StatusQueued}},
		{"found again (idempotent)", fakeInvocations{}, func(s orc.InvocationService) {
			s.CreateInvocation(ctx, &orc.Invocation{ID: "a"}) //nolint:errcheck // the fake answers
		}, nil},
		{"started", fakeInvocations{}, func(s orc.InvocationService) {
			s.StartAttempt(ctx, "a", "w", "n", time.Now()) //nolint:errcheck // the fake answers
		}, []orc.Status{orc.StatusRunning}},
		{"finished", fakeInvocations{won: true}, func(s orc.InvocationService) {
			s.FinishInvocation(ctx, "a", &orc.Result{Status: orc.StatusSucceeded}) //nolint:errcheck // the fake answers
		}, []orc.Status{orc.StatusSucceeded}},
		{"a late attempt's result", fakeInvocations{won: false}, func(s orc.InvocationService) {
			s.FinishInvocation(ctx, "a", &orc.Result{Status: orc.StatusFailed}) //nolint:errcheck // the fake answers
		}, nil},
		{"failed write", fakeInvocations{created: true, err: orc.Errorf(orc.EUNAVAILABLE, "down")}, func(s orc.InvocationService) {
			s.CreateInvocation(ctx, &orc.Invocation{ID: "a"}) //nolint:errcheck // the fake answers
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			tc.call(orc.WithEvents(&tc.f, &rec, nil))
			if len(rec) != len(tc.want) {
				t.Fatalf("events %+v, want statuses %v", rec, tc.want)
			}
			for i, e := range rec {
				if e.Status != tc.want[i] || e.ID != "a" {
					t.Errorf("event %d: %+v, want %s of a", i, e, tc.want[i])
				}
			}
		})
	}
}

// TestWithEventsUnwraps: a store's optional interfaces stay reachable
// behind the wrapper.
func TestWithEventsUnwraps(t *testing.T) {
	inner := &fakeInvocations{}
	chain := orc.UnwrapInvocations(orc.WithEvents(inner, &recorder{}, nil))
	if len(chain) != 2 || chain[1] != orc.InvocationService(inner) {
		t.Fatalf("chain = %v, want the wrapper then the store", chain)
	}
}

type fakeDead struct {
	orc.DeadLetterService
	won bool
	err error
}

func (f *fakeDead) MarkDead(context.Context, string, orc.Death, *orc.InvocationError, time.Time) (bool, error) {
	return f.won, f.err
}

func (f *fakeDead) RedriveDeadLetter(_ context.Context, id string) (*orc.Invocation, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &orc.Invocation{ID: id, Status: orc.StatusQueued, OwnerID: 3, Plugin: "p"}, nil
}

// TestDeadLettersWithEvents: an invocation that dies, or is redriven,
// tells the live views; a lost race or an error tells nothing.
func TestDeadLettersWithEvents(t *testing.T) {
	ctx := context.Background()
	var got recorder
	d := orc.DeadLettersWithEvents(&fakeDead{won: true}, &got, nil)
	if won, err := d.MarkDead(ctx, "a", orc.Death{}, nil, time.Now()); !won || err != nil {
		t.Fatal(won, err)
	}
	if _, err := d.RedriveDeadLetter(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Status != orc.StatusDead || got[1].Status != orc.StatusQueued || got[1].OwnerID != 3 {
		t.Errorf("events: %+v", got)
	}
	got = nil
	d = orc.DeadLettersWithEvents(&fakeDead{won: false}, &got, nil)
	d.MarkDead(ctx, "b", orc.Death{}, nil, time.Now()) //nolint:errcheck // a fake
	d = orc.DeadLettersWithEvents(&fakeDead{err: orc.Errorf(orc.ENOTFOUND, "no")}, &got, nil)
	d.MarkDead(ctx, "b", orc.Death{}, nil, time.Now()) //nolint:errcheck // a fake
	d.RedriveDeadLetter(ctx, "b")                      //nolint:errcheck // a fake
	if len(got) != 0 {
		t.Errorf("events without a change: %+v", got)
	}
}
