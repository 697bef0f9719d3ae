package gateway

import (
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
)

// MaxHookBytes caps an uploaded hook module.
const MaxHookBytes = 16 << 20

// handleCreateHook stores a hook module: the body is the WebAssembly binary,
// the query names it (?name=&global=&description=). The module is validated
// (it must compile and export the ABI) and loaded before the answer.
func (s *Server) handleCreateHook(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := orc.PrincipalFromContext(ctx)
	if !s.require(w, r, p.Role.CanPublish(), "upload hooks") {
		return
	}
	q := r.URL.Query()
	h := &orc.Hook{Name: q.Get("name"), Description: q.Get("description")}
	var err error
	if h.Global, err = queryBool(q, "global"); err != nil {
		s.error(w, r, err)
		return
	}
	module, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxHookBytes))
	if err != nil {
		s.error(w, r, err)
		return
	}
	h.Module = module
	if err := s.Registry.AddHook(ctx, p, h); err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/hooks/"+h.Name)
	writeJSON(w, http.StatusCreated, h)
}

// visibleHook reports whether the principal may see a hook: its own, a
// global one (it runs for everyone), or any for an admin.
func visibleHook(p *orc.Principal, h *orc.Hook) bool { return h.Global || p.CanSee(h.OwnerID) }

// handleListHooks lists the hooks the principal may see.
func (s *Server) handleListHooks(w http.ResponseWriter, r *http.Request) {
	list, err := s.HookStore.ListHooks(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	p := orc.PrincipalFromContext(r.Context())
	visible := []*orc.Hook{}
	for _, h := range list {
		if visibleHook(p, h) {
			visible = append(visible, h)
		}
	}
	writeJSON(w, http.StatusOK, visible)
}

func (s *Server) handleGetHook(w http.ResponseWriter, r *http.Request) {
	h, err := s.HookStore.FindHook(r.Context(), chi.URLParam(r, "hook"))
	if err == nil && !visibleHook(orc.PrincipalFromContext(r.Context()), h) {
		err = orc.Errorf(orc.ENOTFOUND, "hook %q not found", h.Name)
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	uses, err := s.HookStore.HookUses(r.Context(), h.Name)
	if err != nil {
		s.error(w, r, err)
		return
	}
	d := hookDetail{Hook: h, AttachedTo: []*orc.HookUse{}}
	p := orc.PrincipalFromContext(r.Context())
	for _, u := range uses {
		if u.Public || p.CanSee(u.OwnerID) {
			d.AttachedTo = append(d.AttachedTo, u)
		} else {
			d.AttachedElsewhere++
		}
	}
	writeJSON(w, http.StatusOK, d)
}

// hookDetail is GET /api/v1/hooks/{hook}: the hook and the versions that
// name it. Those of plugins the principal may not see are only counted.
type hookDetail struct {
	*orc.Hook
	AttachedTo        []*orc.HookUse `json:"attached_to"`
	AttachedElsewhere int            `json:"attached_elsewhere"`
}

// handleDeleteHook removes a hook no plugin version names; its owner or an
// admin may.
func (s *Server) handleDeleteHook(w http.ResponseWriter, r *http.Request) {
	if err := s.Registry.DeleteHook(r.Context(), orc.PrincipalFromContext(r.Context()), chi.URLParam(r, "hook")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
