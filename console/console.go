package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/console/schemaform"
	"github.com/orc-gateway/orc/identity"
)

// Config is what the console needs. API and Identity are required.
type Config struct {
	// API is the gateway's handler: the console calls it in process.
	API http.Handler
	// Identity signs people in and makes and checks form tokens.
	Identity *identity.Service
	// RayDashboard is the Ray dashboard's URL for admins, "" for none.
	RayDashboard string
	Logger       *slog.Logger
}

// Console serves the web console under /console/.
type Console struct {
	cfg    Config
	pages  map[string]*template.Template
	router chi.Router
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Prefix is where the gateway mounts the console.
const Prefix = "/console"

// New returns the console. It panics if a template does not parse: they
// are embedded, so that is a bug of the build.
func New(cfg Config) *Console {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Console{cfg: cfg, pages: parsePages()}
	c.router = c.routes()
	return c
}

// ServeHTTP serves a console request (its path under Prefix).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.router.ServeHTTP(w, r) }

func (c *Console) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	assets, _ := fs.Sub(assetFS, "assets")
	r.Handle(Prefix+"/assets/*", http.StripPrefix(Prefix+"/assets/", cacheAssets(http.FileServerFS(assets))))
	r.Get(Prefix+"/assets/form.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(schemaform.Script) //nolint:errcheck // the client went away
	})
	r.Get(Prefix+"/login", c.handleLoginPage)
	r.Post(Prefix+"/login", c.handleLogin)
	r.Group(func(r chi.Router) {
		r.Use(c.signedIn)
		r.Get(Prefix+"/", c.handleOverview)
		r.Post(Prefix+"/logout", c.handleLogout)
		r.Get(Prefix+"/plugins", c.handlePlugins)
		r.Get(Prefix+"/register", c.handleRegisterPage)
		r.Post(Prefix+"/register", c.handleRegister)
		r.Get(Prefix+"/plugins/{plugin}", c.handlePlugin)
		r.Post(Prefix+"/plugins/{plugin}", c.handleTry)
		r.Get(Prefix+"/invocations", c.handleInvocations)
		r.Get(Prefix+"/invocations/{id}", c.handleInvocation)
		r.Post(Prefix+"/invocations/{id}/cancel", c.handleCancel)
		r.Post(Prefix+"/invocations/{id}/retry", c.handleRetry)
		r.Post(Prefix+"/invocations/{id}/replay", c.handleReplay)
		r.Get(Prefix+"/compare", c.handleCompare)
		r.Get(Prefix+"/cluster", c.handleCluster)
		r.Get(Prefix+"/hooks", c.handleHooks)
		r.Post(Prefix+"/hooks", c.handleUploadHook)
		r.Get(Prefix+"/hooks/{hook}", c.handleHook)
		r.Post(Prefix+"/hooks/{hook}/delete", c.handleDeleteHook)
		r.Get(Prefix+"/dead-letters", c.handleDeadLetters)
		r.Post(Prefix+"/dead-letters/redrive", c.handleBulkRedrive)
		r.Post(Prefix+"/dead-letters/{id}/redrive", c.handleRedrive)
		r.Post(Prefix+"/dead-letters/{id}/discard", c.handleDiscard)
		r.Get(Prefix+"/keys", c.handleKeys)
		r.Post(Prefix+"/keys", c.handleCreateKey)
		r.Post(Prefix+"/keys/{id}/revoke", c.handleRevokeKey)
		r.Get(Prefix+"/policy", c.handlePolicy)
		r.Post(Prefix+"/policy", c.handleSavePolicy)
		r.Get(Prefix+"/admin/users", c.handleUsers)
		r.Post(Prefix+"/admin/users", c.handleCreateUser)
		r.Post(Prefix+"/admin/users/{id}", c.handleUpdateUser)
		r.Get(Prefix+"/admin/audit", c.handleAudit)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such page."})
	})
	return r
}

// securityHeaders: no inline script or style, no framing, no referrer
// beyond the origin, and pages are not cached (they show private data).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, Prefix+"/assets/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// cacheAssets lets browsers keep assets for an hour: they change only
// with the binary.
func cacheAssets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// me is the signed-in user, as /api/v1/auth/me tells.
type me struct {
	ID         int64    `json:"id"`
	Email      string   `json:"email"`
	Name       string   `json:"name"`
	Role       orc.Role `json:"role"`
	AuthMethod string   `json:"auth_method"`
}

// CanPublish reports whether the user may register plugins and hooks.
func (m *me) CanPublish() bool { return m.Role.CanPublish() }

// CanInvoke reports whether the user may invoke plugins.
func (m *me) CanInvoke() bool { return m.Role != orc.RoleViewer }

// Admin reports whether the user is an admin.
func (m *me) Admin() bool { return m.Role == orc.RoleAdmin }

type ctxKey struct{}

// signedIn finds the signed-in user or sends the browser to sign in.
func (c *Console) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u me
		if _, err := c.call(r, http.MethodGet, "/api/v1/auth/me", nil, &u); err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
				to := Prefix + "/login"
				if r.Method == http.MethodGet {
					to += "?return_to=" + url.QueryEscape(r.URL.RequestURI())
				}
				http.Redirect(w, r, to, http.StatusSeeOther)
				return
			}
			c.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(contextWithUser(r, &u)))
	})
}

func contextWithUser(r *http.Request, u *me) context.Context {
	return context.WithValue(r.Context(), ctxKey{}, u)
}

func userOf(r *http.Request) *me {
	u, _ := r.Context().Value(ctxKey{}).(*me)
	return u
}

// checkForm parses a posted form and checks its token.
func (c *Console) checkForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: "The form could not be read."}
	}
	if err := c.cfg.Identity.CheckFormToken(r, r.PostForm.Get("csrf")); err != nil {
		return &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: orc.ErrorMessage(err)}
	}
	return nil
}

// Routes returns the console's router, for tests that walk every page.
func (c *Console) Routes() chi.Routes { return c.router }
