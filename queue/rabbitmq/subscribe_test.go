package rabbitmq

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// A sync call end to end: the gateway publishes a task naming its reply
// queue, a worker runs it and replies, the gateway's OnReply gets it.
func TestReplyRoundTrip(t *testing.T) {
	t.Parallel()
	prefix := testPrefix(t)
	gateway := newBroker(t, Config{Prefix: prefix})
	worker := newBroker(t, Config{Prefix: prefix})
	ctx := context.Background()

	replies := make(chan *orc.Reply, 1)
	gateway.OnReply(func(r *orc.Reply) { replies <- r })
	consumeInBackground(t, worker, "sync", 1, func(ctx context.Context, d *Delivery) error {
		return worker.Reply(ctx, d.Task.ReplyTo, &orc.Reply{
			InvocationID: d.Task.InvocationID,
			Status:       orc.StatusSucceeded,
			Output:       json.RawMessage(`{"label":"cat"}`),
			Version:      "1.0.0",
			Timing:       orc.Timing{RunMS: 12},
		})
	})

	if q := gateway.ReplyQueue(); q != prefix+".reply."+gateway.cfg.Instance {
		t.Errorf("ReplyQueue() = %q", q)
	}
	task := orc.Task{InvocationID: "inv-sync", Pool: "sync", ReplyTo: gateway.ReplyQueue()}
	if err := gateway.Publish(ctx, &task); err != nil {
		t.Fatal(err)
	}
	r := recv(t, replies, 5*time.Second, "reply")
	if r.InvocationID != "inv-sync" || r.Status != orc.StatusSucceeded || string(r.Output) != `{"label":"cat"}` || r.Timing.RunMS != 12 {
		t.Errorf("reply = %+v", r)
	}
	if err := worker.Reply(ctx, "", r); orc.ErrorCode(err) != orc.EINVALID {
		t.Errorf("Reply to no queue = %v, want code %q", err, orc.EINVALID)
	}
}

func TestBroadcastCancelReachesEveryWorker(t *testing.T) {
	t.Parallel()
	prefix := testPrefix(t)
	gateway := newBroker(t, Config{Prefix: prefix})
	workers := []*Broker{newBroker(t, Config{Prefix: prefix}), newBroker(t, Config{Prefix: prefix})}
	got := make([]chan string, len(workers))
	for i, w := range workers {
		got[i] = make(chan string, 4)
		w.OnCancel(func(id string) { got[i] <- id })
	}
	if err := gateway.BroadcastCancel(context.Background(), "inv-stop"); err != nil {
		t.Fatal(err)
	}
	for i := range workers {
		if id := recv(t, got[i], 5*time.Second, "cancel"); id != "inv-stop" {
			t.Errorf("worker %d got cancel %q, want inv-stop", i, id)
		}
	}
	if err := gateway.BroadcastCancel(context.Background(), ""); orc.ErrorCode(err) != orc.EINVALID {
		t.Errorf("BroadcastCancel(\"\") = %v, want code %q", err, orc.EINVALID)
	}
}
