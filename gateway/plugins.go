package gateway

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
)

// visiblePlugin returns a plugin the principal may see; others' private
// plugins are reported as not found.
func (s *Server) visiblePlugin(r *http.Request, name string) (*orc.Plugin, error) {
	p, err := s.Plugins.FindPlugin(r.Context(), name)
	if err != nil {
		return nil, err
	}
	if !orc.PrincipalFromContext(r.Context()).CanSeePlugin(p) {
		return nil, orc.Errorf(orc.ENOTFOUND, "plugin %q not found", name)
	}
	return p, nil
}

// redactVersion hides the values of a version's environment, which often
// hold secrets, from everyone but the plugin's owner and admins.
func redactVersion(p *orc.Principal, ownerID int64, v *orc.Version) *orc.Version {
	if v == nil || len(v.Env) == 0 || p.CanSee(ownerID) {
		return v
	}
	cp := *v
	cp.Env = make(map[string]string, len(v.Env))
	for k := range v.Env {
		cp.Env[k] = "(hidden)"
	}
	return &cp
}

func redactPlugin(p *orc.Principal, plugin *orc.Plugin) *orc.Plugin {
	plugin.Latest = redactVersion(p, plugin.OwnerID, plugin.Latest)
	return plugin
}

func (s *Server) handleListPlugins(w http.ResponseWriter, r *http.Request) {
	principal := orc.PrincipalFromContext(r.Context())
	list, err := s.Plugins.ListPlugins(r.Context(), orc.PluginFilter{Viewer: principal})
	if err != nil {
		s.error(w, r, err)
		return
	}
	for _, p := range list {
		redactPlugin(principal, p)
	}
	if list == nil {
		list = []*orc.Plugin{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleGetPlugin(w http.ResponseWriter, r *http.Request) {
	p, err := s.visiblePlugin(r, chi.URLParam(r, "plugin"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, redactPlugin(orc.PrincipalFromContext(r.Context()), p))
}

// handleCreatePlugin registers a plugin version from a plugin.json.
func (s *Server) handleCreatePlugin(w http.ResponseWriter, r *http.Request) {
	s.createVersion(w, r, "")
}

// handleCreateVersion registers a version of the plugin named in the path,
// which may be its numeric id as on the other routes of a plugin.
func (s *Server) handleCreateVersion(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "plugin")
	if _, err := strconv.ParseInt(name, 10, 64); err == nil {
		p, err := s.visiblePlugin(r, name)
		if err != nil {
			s.error(w, r, err)
			return
		}
		name = p.Name
	}
	s.createVersion(w, r, name)
}

func (s *Server) createVersion(w http.ResponseWriter, r *http.Request, plugin string) {
	p := orc.PrincipalFromContext(r.Context())
	if !s.require(w, r, p.Role.CanPublish(), "register plugins") {
		return
	}
	var v orc.Version
	if err := s.decodeJSON(w, r, &v); err != nil {
		s.error(w, r, err)
		return
	}
	if plugin != "" {
		if v.Plugin != "" && v.Plugin != plugin {
			s.error(w, r, orc.Errorf(orc.EINVALID, "name %q does not match the plugin %q in the path", v.Plugin, plugin))
			return
		}
		v.Plugin = plugin
	}
	created, err := s.Registry.Register(r.Context(), p, &v)
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/plugins/"+created.Plugin+"/versions/"+created.Version)
	writeJSON(w, http.StatusCreated, created)
}

func (s *Server) handleDeletePlugin(w http.ResponseWriter, r *http.Request) {
	if err := s.Registry.DeletePlugin(r.Context(), orc.PrincipalFromContext(r.Context()), chi.URLParam(r, "plugin")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListVersions(w http.ResponseWriter, r *http.Request) {
	p, err := s.visiblePlugin(r, chi.URLParam(r, "plugin"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	list, err := s.Plugins.ListVersions(r.Context(), p.Name)
	if err != nil {
		s.error(w, r, err)
		return
	}
	principal := orc.PrincipalFromContext(r.Context())
	for i, v := range list {
		list[i] = redactVersion(principal, p.OwnerID, v)
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleGetVersion(w http.ResponseWriter, r *http.Request) {
	p, err := s.visiblePlugin(r, chi.URLParam(r, "plugin"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	v, err := s.Plugins.FindVersion(r.Context(), p.Name, chi.URLParam(r, "version"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, redactVersion(orc.PrincipalFromContext(r.Context()), p.OwnerID, v))
}
