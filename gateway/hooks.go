package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/registry"
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
	name := q.Get("name")
	if !registry.ValidHookName(name) {
		s.error(w, r, orc.Errorf(orc.EINVALID, "name must be 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter"))
		return
	}
	global := false
	if g := q.Get("global"); g != "" {
		var err error
		if global, err = strconv.ParseBool(g); err != nil {
			s.error(w, r, orc.Errorf(orc.EINVALID, "global must be true or false"))
			return
		}
	}
	if global && !s.require(w, r, p.IsAdmin(), "upload global hooks") {
		return
	}
	if s.Hooks == nil {
		s.error(w, r, orc.Errorf(orc.EUNAVAILABLE, "hooks are not enabled on this gateway"))
		return
	}
	module, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxHookBytes))
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.Hooks.Host.Validate(ctx, module); err != nil {
		s.error(w, r, err)
		return
	}
	sum := sha256.Sum256(module)
	h := &orc.Hook{Name: name, Description: q.Get("description"), SHA256: hex.EncodeToString(sum[:]),
		Global: global, OwnerID: p.UserID, Module: module}
	if err := s.HookStore.CreateHook(ctx, h); err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.Hooks.Added(ctx, h); err != nil {
		s.error(w, r, err)
		return
	}
	s.Logger.InfoContext(ctx, "hook uploaded", "hook", name, "sha256", h.SHA256, "global", global, "user_id", p.UserID)
	w.Header().Set("Location", "/api/v1/hooks/"+name)
	writeJSON(w, http.StatusCreated, h)
}

func (s *Server) handleListHooks(w http.ResponseWriter, r *http.Request) {
	list, err := s.HookStore.ListHooks(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	if list == nil {
		list = []*orc.Hook{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleGetHook(w http.ResponseWriter, r *http.Request) {
	h, err := s.HookStore.FindHook(r.Context(), chi.URLParam(r, "hook"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// handleDeleteHook removes a hook no plugin version names; its owner or an
// admin may.
func (s *Server) handleDeleteHook(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := orc.PrincipalFromContext(ctx)
	h, err := s.HookStore.FindHook(ctx, chi.URLParam(r, "hook"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	if !s.require(w, r, p.IsAdmin() || (p.Role.CanPublish() && h.OwnerID == p.UserID), "delete this hook") {
		return
	}
	if err := s.HookStore.DeleteHook(ctx, h.Name); err != nil {
		s.error(w, r, err)
		return
	}
	if s.Hooks != nil {
		s.Hooks.Removed(h.Name)
	}
	s.Logger.InfoContext(ctx, "hook deleted", "hook", h.Name, "user_id", p.UserID)
	w.WriteHeader(http.StatusNoContent)
}
