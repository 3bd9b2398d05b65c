#include "dstack_curl.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

    if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(rq->method, "POST") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_length);
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, rq->body ? rq->body : "");
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &rs->body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, append);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &rs->headers);

    CURLcode code = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &rs->new_connections);
    return code;
}
