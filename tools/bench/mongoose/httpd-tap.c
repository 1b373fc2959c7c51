/*
 * httpd-tap (Mongoose): the Mongoose reference server of the `http-compare-gateway` benchmark
 * (tools/bench). Our own small program on Mongoose's public API, compiled at bench time against a
 * Mongoose source tree (mongoose.c and mongoose.h, version 7.22) that this repository does not hold:
 * `build.sh` compiles it with Mongoose's built-in TCP/IP stack (MG_ENABLE_TCPIP=1) and no sockets.
 *
 *   ./mongoose-httpd-tap <tap> <address> <netmask> <www-dir> [port]
 *
 * It attaches to the existing TAP device <tap> (IFF_TAP | IFF_NO_PI, no offloads: as lwIP's tapif
 * attaches; it never configures the device, the benchmark gives the kernel side its address) and
 * runs Mongoose's stack on it with a driver of three functions: tx writes one frame to the TAP
 * descriptor, rx reads one (non-blocking), poll reports the link up.
 *
 * Answers, from memory (both files read once at start):
 *   GET /big  -> 200, application/octet-stream, the bytes of <www-dir>/big, streamed from memory;
 *   anything  -> 200, text/plain, the bytes of <www-dir>/small (at most 64 KiB).
 * The heads are those of the lwIP reference (tools/bench/lwip/httpd-tap.c): status line,
 * Content-Type, Content-Length, and Connection when the connection closes (or is an HTTP/1.0
 * keep-alive). HTTP/1.1 connections persist unless the request says "Connection: close"; HTTP/1.0
 * ones close after the answer unless it says "Connection: keep-alive".
 *
 * The loop: one mg_mgr_poll() handles at most one received frame (Mongoose's polling-driver
 * contract) and lets every connection send; while a poll read or sent a frame the loop polls again
 * at once, otherwise it sleeps in poll(2) on the TAP descriptor for at most IDLE_WAIT_MS, so an
 * idle server costs no CPU and its CPU per request is measurable (a busy-polling driver would
 * take a whole core from the clients on a shared machine).
 *
 * Prints "ready <address>:<port>" on stdout once Mongoose's interface is up (its state READY) and
 * the listener is open; Mongoose's own log goes to stderr. Stops on SIGTERM or SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mongoose.h"

/** The longest sleep of the loop when nothing arrived and nothing was sent (Mongoose's timers tick in ms). */
#define IDLE_WAIT_MS 5
/** How long the interface may take to come up before the program gives up. */
#define START_TIMEOUT_MS 15000
/** The bulk answer is appended to a connection's send buffer while that holds fewer bytes than this. */
#define BIG_FILL_BYTES 16384
/** Largest small answer read from <www-dir>/small. */
#define SMALL_MAX_BYTES 65536

static volatile sig_atomic_t stop_signal = 0;
static int tap_fd = -1;
/** Set by tap_rx when it returned a frame: the loop polls again at once. */
static int frame_read = 0;

static char *small_body;
static size_t small_len;
static char *big_body;
static size_t big_len;

/** What an accepted connection still has to send of the bulk answer (in its `data` scratch space, zeroed on accept). */
struct bulk_state {
  size_t sent_up_to;   /* bytes of big_body already appended to the send buffer */
  size_t left;         /* bytes of big_body not yet appended; 0: no bulk answer in progress */
  int close_after;     /* close once the answer is queued */
};

static void on_signal(int signo) { stop_signal = signo; }

static size_t tap_tx(const void *frame, size_t len, struct mg_tcpip_if *ifp) {
  (void) ifp;
  ssize_t n = write(tap_fd, frame, len);
  return n < 0 ? 0 : (size_t) n;
}

static size_t tap_rx(void *buf, size_t len, struct mg_tcpip_if *ifp) {
  (void) ifp;
  ssize_t n = read(tap_fd, buf, len);
  if (n <= 0) return 0;
  frame_read = 1;
  return (size_t) n;
}

static bool tap_link_up(struct mg_tcpip_if *ifp, bool once_a_second) {
  (void) ifp;
  (void) once_a_second;
  return true;
}

static void log_to_stderr(char ch, void *param) {
  (void) param;
  fputc(ch, stderr);
}

/* Reads a whole file into a fresh buffer; returns 0 on success. */
static int read_file(const char *dir, const char *name, size_t max, char **out, size_t *out_len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (f == NULL || fstat(fileno(f), &st) != 0 || (size_t) st.st_size > max) {
    fprintf(stderr, "mongoose-httpd-tap: cannot read %s (missing, or over %zu bytes)\n", path, max);
    if (f != NULL) fclose(f);
    return -1;
  }
  *out_len = (size_t) st.st_size;
  *out = malloc(*out_len > 0 ? *out_len : 1);
  size_t got = *out == NULL ? 0 : fread(*out, 1, *out_len, f);
  fclose(f);
  if (got != *out_len) {
    fprintf(stderr, "mongoose-httpd-tap: short read of %s\n", path);
    return -1;
  }
  return 0;
}

/* The head of a 200 answer, as the lwIP reference writes it. */
static void write_head(struct mg_connection *c, const char *type, size_t length, int close_after, int http10) {
  const char *connection = close_after ? "Connection: close\r\n" : http10 ? "Connection: keep-alive\r\n" : "";
  mg_printf(c, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lu\r\n%s\r\n", type,
            (unsigned long) length, connection);
}

/* The answer is queued in full: the next pipelined request may be parsed; close if asked to. */
static void answer_done(struct mg_connection *c, int close_after) {
  c->is_resp = 0;
  if (close_after) c->is_draining = 1;
}

/* Appends the next part of the bulk answer while the send buffer runs low. */
static void push_bulk(struct mg_connection *c) {
  struct bulk_state *b = (struct bulk_state *) c->data;
  while (b->left > 0 && c->send.len < BIG_FILL_BYTES) {
    size_t n = BIG_FILL_BYTES - c->send.len;
    if (n > b->left) n = b->left;
    if (!mg_send(c, big_body + b->sent_up_to, n)) return; /* out of memory: try again on the next poll */
    b->sent_up_to += n;
    b->left -= n;
  }
  if (b->left == 0) answer_done(c, b->close_after);
}

static int header_is(struct mg_http_message *hm, const char *name, const char *value) {
  struct mg_str *h = mg_http_get_header(hm, name);
  return h != NULL && mg_strcasecmp(*h, mg_str(value)) == 0;
}

static void on_http(struct mg_connection *c, int ev, void *ev_data) {
  /* The listener gets these events too, and its `data` holds Mongoose's own SYN backlog. */
  if (!c->is_accepted) return;
  struct bulk_state *b = (struct bulk_state *) c->data;
  if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    int http10 = mg_strcasecmp(hm->proto, mg_str("HTTP/1.0")) == 0;
    int close_after = http10 ? !header_is(hm, "Connection", "keep-alive") : header_is(hm, "Connection", "close");
    if (mg_strcmp(hm->uri, mg_str("/big")) == 0) {
      write_head(c, "application/octet-stream", big_len, close_after, http10);
      b->sent_up_to = 0;
      b->left = big_len;
      b->close_after = close_after;
      push_bulk(c);
    } else {
      write_head(c, "text/plain", small_len, close_after, http10);
      mg_send(c, small_body, small_len);
      answer_done(c, close_after);
    }
  } else if ((ev == MG_EV_WRITE || ev == MG_EV_POLL) && b->left > 0) {
    push_bulk(c);
  }
}

static int open_tap(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, (void *) &ifr) < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int parse_ip4(const char *text, uint32_t *out) {
  struct mg_addr a;
  memset(&a, 0, sizeof a);
  if (!mg_aton(mg_str(text), &a) || a.is_ip6) return -1;
  memcpy(out, a.addr.ip, 4); /* network byte order, as mg_tcpip_if wants it */
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 5) {
    fprintf(stderr, "usage: %s <tap> <address> <netmask> <www-dir> [port]\n", argv[0]);
    return 2;
  }
  const char *tap = argv[1];
  int port = argc > 5 ? atoi(argv[5]) : 80;
  uint32_t ip = 0, mask = 0;
  if (parse_ip4(argv[2], &ip) != 0 || parse_ip4(argv[3], &mask) != 0) {
    fprintf(stderr, "%s: <address> and <netmask> must be IPv4 addresses\n", argv[0]);
    return 2;
  }
  if (read_file(argv[4], "small", SMALL_MAX_BYTES, &small_body, &small_len) != 0 ||
      read_file(argv[4], "big", (size_t) 1 << 30, &big_body, &big_len) != 0)
    return 2;
  tap_fd = open_tap(tap);
  if (tap_fd < 0) {
    fprintf(stderr, "%s: cannot attach to TAP device %s: %s\n", argv[0], tap, strerror(errno));
    return 1;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  mg_log_set_fn(log_to_stderr, NULL);
  mg_log_set(MG_LL_ERROR);

  struct mg_mgr mgr;
  mg_mgr_init(&mgr);
  struct mg_tcpip_driver driver = {.init = NULL, .tx = tap_tx, .rx = tap_rx, .poll = tap_link_up};
  struct mg_tcpip_if mif;
  memset(&mif, 0, sizeof mif);
  mif.driver = &driver;
  mif.ip = ip;
  mif.mask = mask;
  const uint8_t mac[6] = {0x02, 0x50, 0x4d, 0x47, 0x00, 0x02};
  memcpy(mif.mac, mac, sizeof mac);
  mg_tcpip_init(&mgr, &mif);

  char listen_url[64];
  snprintf(listen_url, sizeof listen_url, "http://0.0.0.0:%d", port);
  if (mg_http_listen(&mgr, listen_url, on_http, NULL) == NULL) {
    fprintf(stderr, "%s: cannot listen on port %d\n", argv[0], port);
    return 1;
  }

  uint64_t started = mg_millis();
  int ready = 0;
  while (stop_signal == 0) {
    uint32_t sent_before = mif.nsent;
    frame_read = 0;
    mg_mgr_poll(&mgr, 0);
    if (!ready && mif.state == MG_TCPIP_STATE_READY) {
      ready = 1;
      printf("ready %s:%d\n", argv[2], port);
    } else if (!ready && mg_millis() - started > START_TIMEOUT_MS) {
      fprintf(stderr, "%s: the interface did not come up in %d ms (state %u)\n", argv[0], START_TIMEOUT_MS,
              (unsigned) mif.state);
      return 1;
    }
    if (frame_read || mif.nsent != sent_before) continue;
    struct pollfd p = {.fd = tap_fd, .events = POLLIN, .revents = 0};
    poll(&p, 1, IDLE_WAIT_MS);
  }
  mg_mgr_free(&mgr);
  mg_tcpip_free(&mif);
  close(tap_fd);
  return 0;
}
