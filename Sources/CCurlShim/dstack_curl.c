#include "dstack_curl.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void dstack_curl_global_init(void) { pthread_once(&global_once, global_init); }

static size_t append(char *ptr, size_t size, size_t nmemb, void *userdata) {
    dstack_buffer *buffer = (dstack_buffer *)userdata;
    size_t n = size * nmemb;
    if (buffer->length + n + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 4096;
        while (capacity < buffer->length + n + 1) capacity *= 2;
        char *grown = realloc(buffer->data, capacity);
        if (!grown) return 0; // tells libcurl to abort the transfer
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->length, ptr, n);
    buffer->length += n;
    buffer->data[buffer->length] = 0;
    return n;
}

// The state of one streamed transfer: where the body is read from, and where a reply goes.
typedef struct {
    CURL *handle;
    dstack_curl_response *response;
    int upload_fd;
    long long upload_offset;
    long long upload_remaining;
    int download_fd;
    int to_file;      // -1 undecided, 0 memory (the reply is not a 2xx), 1 the file
} stream_state;

static size_t read_from_fd(char *buffer, size_t size, size_t nitems, void *userdata) {
    stream_state *state = (stream_state *)userdata;
    size_t wanted = size * nitems;
    if ((long long)wanted > state->upload_remaining) wanted = (size_t)state->upload_remaining;
    if (wanted == 0) return 0;
    ssize_t n;
    do { n = pread(state->upload_fd, buffer, wanted, state->upload_offset); } while (n < 0 && errno == EINTR);
    if (n <= 0) return CURL_READFUNC_ABORT; // a file that shrank or cannot be read fails the transfer
    state->upload_offset += n;
    state->upload_remaining -= n;
    return (size_t)n;
}

static size_t write_to_fd(char *ptr, size_t size, size_t nmemb, void *userdata) {
    stream_state *state = (stream_state *)userdata;
    size_t n = size * nmemb;
    if (state->to_file < 0) {
        long status = 0;
        curl_easy_getinfo(state->handle, CURLINFO_RESPONSE_CODE, &status);
        state->to_file = (status >= 200 && status < 300) ? 1 : 0;
    }
    if (!state->to_file) return append(ptr, size, nmemb, &state->response->body);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(state->download_fd, ptr + done, n - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            return 0; // a full disk aborts the transfer
        }
        done += (size_t)w;
    }
    return n;
}

void dstack_buffer_free(dstack_buffer *buffer) {
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = buffer->capacity = 0;
}

CURLcode dstack_curl_perform(CURL *h, const dstack_curl_request *rq, dstack_curl_response *rs) {
    curl_easy_reset(h); // keeps the connection cache, which is what gives keep-alive reuse
    memset(rs, 0, sizeof(*rs));
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, rs->error);
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, rq->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->total_timeout_ms);
    if (rq->pinned_public_key && rq->pinned_public_key[0]) {
        // A pinned key replaces the chain check: the server's certificate is self-signed,
        // and only a server holding exactly this key gets past the handshake.
        curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, rq->pinned_public_key);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, rq->verify_tls ? 1L : 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, rq->verify_tls ? 2L : 0L);
    }
    if (rq->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, rq->ca_file);
    // The proxy is decided by the caller from the environment; an explicit empty
    // string stops libcurl from reading the environment a second time.
    curl_easy_setopt(h, CURLOPT_PROXY, (rq->proxy && rq->proxy[0]) ? rq->proxy : "");
    if (rq->no_proxy) curl_easy_setopt(h, CURLOPT_NOPROXY, rq->no_proxy);
    if (rq->headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq->headers);

    stream_state stream = { h, rs, rq->upload_fd, rq->upload_offset, rq->upload_length, rq->download_fd, -1 };
    if (rq->low_speed_time_s > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, rq->low_speed_time_s);
    }
    if (rq->upload_from_fd) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L); // PUT, with the body from read_from_fd
        if (strcmp(rq->method, "PUT") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->upload_length);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_from_fd);
        curl_easy_setopt(h, CURLOPT_READDATA, &stream);
    } else if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(rq->method, "POST") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_length);
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, rq->body ? rq->body : "");
    }
    if (rq->download_to_fd) {
        // No transparent decompression: the bytes written are the bytes the SHA-256 is of.
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_to_fd);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &stream);
    } else {
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &rs->body);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, append);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &rs->headers);

    CURLcode code = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &rs->new_connections);
    return code;
}
