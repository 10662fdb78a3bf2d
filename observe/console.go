package observe

import (
	"embed"
	"io/fs"
	"net/http"
)

// web holds the console: one HTML page, its script and its style sheet. Nothing else is
// loaded: no CDN, no font, no request beyond this listener.
//
//go:embed web
var web embed.FS

func (h *Handler) routeConsole() {
	static, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	index, err := fs.ReadFile(static, "index.html")
	if err != nil {
		panic(err)
	}
	page := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", csp)
		w.Write(index)
	}
	// The console's routes all serve the page; its script renders the route.
	for _, route := range []string{"GET /{$}", "GET /topics", "GET /topics/{name}", "GET /topics/{name}/partitions/{p}",
		"GET /groups", "GET /groups/{id}", "GET /brokers"} {
		h.mux.HandleFunc(route, page)
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	h.mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
}

// csp keeps the console's page from loading anything from elsewhere, even by mistake.
const csp = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
