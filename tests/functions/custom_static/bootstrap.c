/* A custom runtime as one static binary, as a Go or Rust `bootstrap` would be: no shell, no curl,
 * no shared libraries. It answers every invocation with {"static": true, "event": <event>}.
 * Built by the tests with `cc -static -O2 -o bootstrap bootstrap.c`. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_api(void) {
    char host[64];
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    const char *colon = api ? strrchr(api, ':') : NULL;
    if (!colon || (size_t)(colon - api) >= sizeof host) exit(2);
    memcpy(host, api, colon - api);
    host[colon - api] = '\0';
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) exit(3);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) exit(4);
    return fd;
}

static void send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n <= 0) exit(5);
        data += n;
        len -= (size_t)n;
    }
}

/* Read one response: its headers into `head`, its body (Content-Length bytes) into `body`. */
static size_t read_response(int fd, char *head, size_t head_size, char *body, size_t body_size) {
    size_t used = 0;
    char *end = NULL;
    while (!end) {
        if (used + 1 >= head_size) exit(6);
        ssize_t n = read(fd, head + used, head_size - used - 1);
        if (n <= 0) exit(7);
        used += (size_t)n;
        head[used] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    size_t have = used - (size_t)(end + 4 - head);
    *end = '\0';
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    size_t length = cl ? strtoul(cl + 17, NULL, 10) : 0;
    if (length >= body_size) exit(8);
    memcpy(body, end + 4, have);
    while (have < length) {
        ssize_t n = read(fd, body + have, length - have);
        if (n <= 0) exit(9);
        have += (size_t)n;
    }
    body[length] = '\0';
    return length;
}

int main(void) {
    static char head[16384], event[1 << 20], reply[(1 << 20) + 64], request[(1 << 20) + 512];
    for (;;) {
        int fd = connect_api();
        const char *next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: api\r\n\r\n";
        send_all(fd, next, strlen(next));
        size_t length = read_response(fd, head, sizeof head, event, sizeof event);
        close(fd);
        const char *id = strcasestr(head, "\r\nLambda-Runtime-Aws-Request-Id:");
        if (!id) exit(10);
        id += 32;
        while (*id == ' ') id++;
        size_t id_len = strcspn(id, "\r\n");
        int body_len = snprintf(reply, sizeof reply, "{\"static\": true, \"event\": %.*s}",
                                (int)length, event);
        int req_len = snprintf(request, sizeof request,
                               "POST /2018-06-01/runtime/invocation/%.*s/response HTTP/1.1\r\n"
                               "Host: api\r\nContent-Type: application/json\r\n"
                               "Content-Length: %d\r\n\r\n%s",
                               (int)id_len, id, body_len, reply);
        fd = connect_api();
        send_all(fd, request, (size_t)req_len);
        read_response(fd, head, sizeof head, event, sizeof event);
        close(fd);
    }
}
