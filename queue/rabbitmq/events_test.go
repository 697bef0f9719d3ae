package rabbitmq

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/orc-gateway/orc"
)

// TestFollowLogs: a process gets the log events of the invocations it
// follows, and only those, for as long as any of its followers follows,
// also after a reconnect; a log event is of the invocation its key names.
func TestFollowLogs(t *testing.T) {
	t.Parallel()
	prefix := testPrefix(t)
	gateway := newBroker(t, Config{Prefix: prefix, ReconnectMax: 200 * time.Millisecond})
	worker := newBroker(t, Config{Prefix: prefix})
	ctx := context.Background()

	// Status events mark where the stream is: events from one publisher
	// come in the order it sent them.
	type got struct {
		logs   *orc.LogEvent
		status *orc.InvocationEvent
	}
	seen := make(chan got, 100)
	gateway.OnEvent(func(e *orc.InvocationEvent) { seen <- got{status: e} })
	gateway.OnLogs(func(e *orc.LogEvent) { seen <- got{logs: e} })
	// next returns the id of the next log event before the marker, or ""
	// when the marker came first.
	mark := 0
	next := func() string {
		t.Helper()
		mark++
		marker := "mark-" + string(rune('a'+mark))
		worker.PublishEvent(&orc.InvocationEvent{ID: marker, Status: orc.StatusRunning})
		var logID string
		for {
			g := recv(t, seen, 5*time.Second, "an event")
			switch {
			case g.logs != nil && logID == "":
				logID = g.logs.ID
			case g.status != nil && g.status.ID == marker:
				return logID
			}
		}
	}
	publish := func(id string) {
		worker.PublishLogs(&orc.LogEvent{ID: id, Attempt: 1, Lines: []orc.LiveLine{{Stream: "stderr", Line: "epoch 1"}}})
	}

	stop1, err := gateway.FollowLogs(ctx, "inv-a")
	if err != nil {
		t.Fatal(err)
	}
	stop2, err := gateway.FollowLogs(ctx, "inv-a")
	if err != nil {
		t.Fatal(err)
	}
	publish("inv-b")
	publish("inv-a")
	if id := next(); id != "inv-a" {
		t.Fatalf("first log event of %q, want inv-a's (inv-b's is followed by nobody)", id)
	}

	// A log event whose body names another invocation than its key.
	ch := rawChannel(t)
	body, _ := json.Marshal(orc.LogEvent{ID: "inv-b", Lines: []orc.LiveLine{{Line: "not a's"}}})
	if err := ch.PublishWithContext(ctx, prefix+".events", logKeyPrefix+"inv-a", false, false, amqp.Publishing{Body: body}); err != nil {
		t.Fatal(err)
	}
	if id := next(); id != "" {
		t.Errorf("a log event of %s under inv-a's key was delivered", id)
	}

	// The binding is made again on a new connection.
	gateway.mu.Lock()
	s := gateway.cur
	gateway.mu.Unlock()
	_ = s.conn.Close()
	eventually(t, 10*time.Second, "reconnected and bound again", func() bool {
		gateway.ev.followMu.Lock()
		defer gateway.ev.followMu.Unlock()
		return gateway.ev.boundOn != nil && gateway.ev.boundOn != s
	})
	publish("inv-a")
	if id := next(); id != "inv-a" {
		t.Fatalf("after a reconnect: log event of %q, want inv-a's", id)
	}

	// One follower stops: the other still gets them; then none.
	stop1()
	stop1()
	publish("inv-a")
	if id := next(); id != "inv-a" {
		t.Fatalf("with one follower left: log event of %q, want inv-a's", id)
	}
	stop2()
	publish("inv-a")
	if id := next(); id != "" {
		t.Errorf("with no follower: a log event of %s", id)
	}

	for _, id := range []string{"", "#", "*", "inv-a.#", "invocation.log.inv-a"} {
		if _, err := gateway.FollowLogs(ctx, id); orc.ErrorCode(err) != orc.EINVALID {
			t.Errorf("FollowLogs(%q) = %v, want %s", id, err, orc.EINVALID)
		}
	}
}
