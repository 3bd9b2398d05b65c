// Non-variadic wrappers around the parts of libcurl dstack uses.
// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call.
#ifndef DSTACK_CURL_H
#define DSTACK_CURL_H

#include <curl/curl.h>
#include <stddef.h>

typedef struct {
    char *data;
    size_t length;
    size_t capacity;
} dstack_buffer;

typedef struct {
    const char *method;            // "GET", "POST", ...
    const char *url;
    struct curl_slist *headers;    // may be NULL
    const char *body;              // may be NULL
    size_t body_length;
    long connect_timeout_ms;
    long total_timeout_ms;
    int verify_tls;                // 0 only for tests that ask for it explicitly
    const char *proxy;             // NULL: no proxy; "" is treated as NULL
    const char *no_proxy;          // NULL or a comma-separated host list
    const char *ca_file;           // NULL: the system bundle
    const char *pinned_public_key; // NULL, or "sha256//BASE64": the server's key must be this one
    // Streaming (artifacts): a body read from a file and a reply written to one, so that
    // a file of any size crosses the wire through a small buffer, never whole in memory.
    int upload_from_fd;            // 1: the body is `upload_length` bytes of `upload_fd` from `upload_offset` (PUT)
    int upload_fd;
    long long upload_offset;
    long long upload_length;
    int download_to_fd;            // 1: a 2xx reply's body is appended to `download_fd`; other replies stay in memory
    int download_fd;
    long low_speed_time_s;         // > 0: abort when under 1 KiB/s for this long (for transfers with no total timeout)
} dstack_curl_request;

typedef struct {
    long status;
    long new_connections;          // CURLINFO_NUM_CONNECTS: 0 when a kept-alive connection was reused
    dstack_buffer body;
    dstack_buffer headers;
    char error[CURL_ERROR_SIZE];
} dstack_curl_response;

/// Initialises libcurl once per process; safe to call repeatedly from any thread.
void dstack_curl_global_init(void);

/// Resets `handle` (keeping its connection cache), applies `request`, performs it,
/// and fills `response`. The caller frees the response buffers with dstack_buffer_free.
CURLcode dstack_curl_perform(CURL *handle, const dstack_curl_request *request,
                             dstack_curl_response *response);

void dstack_buffer_free(dstack_buffer *buffer);

#endif
