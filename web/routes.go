package web

import "net/http"

// routes registers every page. Each part of the view registers its own
// (auth.go, inventory.go, app.go, ops.go).
func (s *Server) routes() {
	s.mux.HandleFunc("GET /about-the-agent", s.aboutAgent)
	s.authRoutes()
	s.inventoryRoutes()
	s.appRoutes()
	s.opsRoutes()
	s.digestRoutes()
	s.credentialRoutes()
	s.adminsRoutes()
	s.mux.HandleFunc("/", s.notFound)
}

// aboutAgent is the page for employees: what the agent collects and what
// it never collects. It needs no sign-in.
func (s *Server) aboutAgent(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "about", page{Title: "What the shadowmap agent collects"})
}
