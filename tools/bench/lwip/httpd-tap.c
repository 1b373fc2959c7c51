/*
 * httpd-tap: the lwIP reference server of the `http-compare` benchmark (tools/bench).
 *
 * A minimal HTTP/1.x server on lwIP's raw TCP API, linked against Debian's liblwip-dev (lwIP 2.1.3,
 * built with NO_SYS=0: a tcpip thread, core locking) and its TAP netif (`tapif`), which attaches to
 * the existing TAP device named by the PRECONFIGURED_TAPIF environment variable (it never runs
 * ifconfig: the benchmark configures the kernel side of the device in its own namespace).
 *
 *   PRECONFIGURED_TAPIF=tap0 LD_PRELOAD=./pbuf-ram-shim.so ./httpd-tap 198.18.9.2 255.255.255.0 [port]
 *
 * Responses:
 *   GET /big  -> 200 with a 64 MiB body (application/octet-stream), sent from one static buffer
 *                without copying (lwIP references it until acknowledged);
 *   anything  -> 200 with "Hello, world!" (13 bytes, text/plain), or with the contents of the file
 *                named by $SMALL_BODY_FILE (at most 4 KiB) when that is set.
 * HTTP/1.1 connections persist unless the request says "Connection: close"; HTTP/1.0 ones close
 * after the answer unless it says "Connection: keep-alive". Requests are answered one at a time,
 * in order (a pipelined request waits in the connection's buffer until the answer before it is
 * queued in full).
 *
 * Run it with the pbuf-ram-shim.so preload: Debian's build sizes PBUF_POOL elements for an MSS of
 * 536 while its tapif receives every frame (up to 1,514 bytes) into one, which corrupts the heap on
 * the first frame over about 592 bytes (seen in reference runs of this setup). The shim makes those
 * allocations PBUF_RAM (sized to the frame).
 *
 * It prints "ready <address>:<port>" on stdout once the listener is up, and runs until killed.
 * Layout note: the program touches no lwIP structure field whose offset depends on lwipopts.h
 * (the shipped header and the library's build options differ); the netif gets generous storage.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lwip/err.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"
#include "netif/tapif.h"

/** Size of the large response body (GET /big). */
#define BIG_BODY_BYTES (64ull * 1024 * 1024)
/** The static buffer the large body is sent from, again and again. */
#define CHUNK_BYTES 65536
/** Largest single tcp_write; halved on ERR_MEM down to MIN_WRITE_BYTES. */
#define MAX_WRITE_BYTES 32768
#define MIN_WRITE_BYTES 512
/** Most bytes of request heads buffered per connection (a longer head gets 431 and a close). */
#define REQUEST_BUFFER_BYTES 4096

/** The small answer: "Hello, world!", or the contents of the file named by $SMALL_BODY_FILE (at most 4 KiB). */
static char small_body[4096] = "Hello, world!";
static size_t small_len = 13;
static unsigned char chunk[CHUNK_BYTES];

struct conn {
  struct tcp_pcb *pcb;
  size_t buffered;                 /* bytes in req[] not yet answered */
  unsigned long long body_left;    /* bytes of the large body not yet queued */
  int close_after;                 /* close once the current answer is queued */
  int peer_closed;                 /* the client sent FIN */
  int fin_sent;                    /* we sent our FIN first (tcp_shutdown of TX) and wait for the client's */
  int closing_polls;               /* poll intervals since fin_sent (the wait for the client's FIN is bounded) */
  char req[REQUEST_BUFFER_BYTES];
};

/* The netif, with room to spare: the library may have been built with a larger struct netif than
 * the shipped headers describe. */
static union {
  struct netif netif;
  unsigned char pad[8192];
} netif_storage;

/* 1 while the pcb's state reads as lwIP's enum says (checked on every accepted pcb, which must read
 * ESTABLISHED): tcp_dbg_get_tcp_state() reads a struct field, and this program trusts no field
 * offset it has not seen work (see the layout note above). */
static int state_readable = 1;
/* Most poll intervals (about 1 s each) a connection waits for the client's FIN after ours. */
#define CLOSING_POLLS_MAX 20

static void conn_close(struct conn *c) {
  struct tcp_pcb *pcb = c->pcb;
  tcp_arg(pcb, NULL);
  tcp_recv(pcb, NULL);
  tcp_sent(pcb, NULL);
  tcp_err(pcb, NULL);
  tcp_poll(pcb, NULL, 0);
  if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
  free(c);
}

/* Runs in the tcpip thread after the input that put `arg` into TIME_WAIT (and sent the ACK of the
 * client's FIN): frees the TIME_WAIT pcb (tcp_abort of a TIME_WAIT pcb sends nothing). */
static void free_time_wait(void *arg) {
  struct tcp_pcb *pcb = arg;
  if (tcp_dbg_get_tcp_state(pcb) == TIME_WAIT) tcp_abort(pcb);
}

/* The server closes first (HTTP/1.0, Connection: close): FIN after the queued answer, keeping the
 * pcb until the client's FIN (see on_recv: its TIME_WAIT is then freed). */
static void conn_finish(struct conn *c) {
  if (!state_readable || tcp_shutdown(c->pcb, 0, 1) != ERR_OK) {
    conn_close(c);
    return;
  }
  c->fin_sent = 1;
  tcp_output(c->pcb);
}

/* The client's FIN after ours: the pcb is in TIME_WAIT (or CLOSING when the client had not yet
 * acknowledged our FIN). lwIP 2.1.3 answers a SYN that reuses the 4-tuple of a TIME_WAIT pcb with
 * an ACK and ignores the client's RST (RFC 1337), so a client port reused within 2 MSL (120 s)
 * stalls until that TIME_WAIT ends; Linux's client reuses ports within seconds, because the server
 * that closed first holds the TIME_WAIT, not the client. Linux as a server accepts such a SYN;
 * this server gets the same effect by freeing its TIME_WAIT pcb once the input that made it has
 * sent the ACK of the client's FIN (deferred: inside the callback lwIP would not send it). */
static void conn_peer_fin_after_ours(struct conn *c) {
  struct tcp_pcb *pcb = c->pcb;
  int time_wait = tcp_dbg_get_tcp_state(pcb) == TIME_WAIT;
  tcp_arg(pcb, NULL);
  tcp_recv(pcb, NULL);
  tcp_sent(pcb, NULL);
  tcp_err(pcb, NULL);
  tcp_poll(pcb, NULL, 0);
  free(c);
  if (time_wait) {
    if (tcpip_try_callback(free_time_wait, pcb) != ERR_OK) return; /* then lwIP's own 2 MSL timer frees it */
  } else if (tcp_close(pcb) != ERR_OK) {
    tcp_abort(pcb);
  }
}

/* Queues as much of the large body as lwIP takes now; 0 when all of it is queued. */
static int push_body(struct conn *c) {
  size_t n = MAX_WRITE_BYTES;
  while (c->body_left > 0) {
    if (n > c->body_left) n = (size_t)c->body_left;
    err_t err = tcp_write(c->pcb, chunk, (u16_t)n, c->body_left > n ? TCP_WRITE_FLAG_MORE : 0);
    if (err == ERR_OK) {
      c->body_left -= n;
    } else if (err == ERR_MEM && n > MIN_WRITE_BYTES) {
      n /= 2;
    } else {
      break; /* send buffer full: the sent callback continues */
    }
  }
  return c->body_left > 0;
}

static int write_head(struct conn *c, int status, const char *type, unsigned long long length, int http10) {
  char head[256];
  const char *reason = status == 200 ? "OK" : status == 431 ? "Request Header Fields Too Large" : "Bad Request";
  const char *connection = c->close_after ? "Connection: close\r\n" : http10 ? "Connection: keep-alive\r\n" : "";
  int len = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %llu\r\n%s\r\n",
                     status, reason, type, length, connection);
  return tcp_write(c->pcb, head, (u16_t)len, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE) == ERR_OK;
}

/* Finds a complete request head at the start of req[]; returns its length or 0. */
static size_t head_length(const struct conn *c) {
  for (size_t i = 3; i < c->buffered; i++) {
    if (c->req[i] == '\n' && c->req[i - 1] == '\r' && c->req[i - 2] == '\n' && c->req[i - 3] == '\r') return i + 1;
  }
  return 0;
}

/* A case-insensitive search for `needle` in the first `len` bytes of `hay`. */
static int contains(const char *hay, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= len; i++) {
    if (strncasecmp(hay + i, needle, n) == 0) return 1;
  }
  return 0;
}

/* Answers buffered requests until one is still being sent or none is complete. Returns 0 when the
 * connection was closed (and freed). */
static int serve(struct conn *c) {
  while (c->body_left == 0) {
    if (c->fin_sent) return 1;
    if (c->close_after && !c->peer_closed) {
      conn_finish(c);
      return c->fin_sent;
    }
    if (c->close_after || (c->peer_closed && c->buffered == 0)) {
      conn_close(c);
      return 0;
    }
    size_t len = head_length(c);
    if (len == 0) {
      if (c->buffered == sizeof c->req) {
        c->close_after = 1;
        write_head(c, 431, "text/plain", 0, 0);
        c->buffered = 0;
        continue;
      }
      return 1;
    }
    const char *line_end = memchr(c->req, '\r', len);
    size_t line_len = (size_t)(line_end - c->req);
    int http10 = line_len >= 8 && memcmp(line_end - 8, "HTTP/1.0", 8) == 0;
    int big = line_len > 8 && strncmp(c->req, "GET /big ", 9) == 0;
    c->close_after = http10 ? !contains(c->req, len, "connection: keep-alive") : contains(c->req, len, "connection: close");
    if (big) {
      if (!write_head(c, 200, "application/octet-stream", BIG_BODY_BYTES, http10)) { tcp_abort(c->pcb); free(c); return 0; }
      c->body_left = BIG_BODY_BYTES;
      push_body(c);
    } else {
      if (!write_head(c, 200, "text/plain", small_len, http10) ||
          tcp_write(c->pcb, small_body, (u16_t)small_len, 0) != ERR_OK) {
        tcp_abort(c->pcb);
        free(c);
        return 0;
      }
    }
    memmove(c->req, c->req + len, c->buffered - len);
    c->buffered -= len;
  }
  return 1;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t acked) {
  (void)acked;
  struct conn *c = arg;
  if (c == NULL) return ERR_OK;
  if (c->body_left > 0 && push_body(c) == 0) {
    if (!serve(c)) return ERR_OK;
  }
  tcp_output(pcb);
  return ERR_OK;
}

static err_t on_poll(void *arg, struct tcp_pcb *pcb) {
  struct conn *c = arg;
  if (c != NULL && c->fin_sent && ++c->closing_polls > CLOSING_POLLS_MAX) {
    conn_close(c); /* no FIN from the client: lwIP's own close takes over */
    return ERR_OK;
  }
  return on_sent(arg, pcb, 0);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  struct conn *c = arg;
  (void)err;
  if (c == NULL) {
    if (p != NULL) {
      tcp_recved(pcb, p->tot_len);
      pbuf_free(p);
    }
    return ERR_OK;
  }
  if (p == NULL && c->fin_sent) {
    conn_peer_fin_after_ours(c);
    return ERR_OK;
  }
  if (p != NULL && c->fin_sent) { /* data after our FIN: not read */
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
  }
  if (p == NULL) {
    c->peer_closed = 1;
    if (c->body_left == 0) serve(c);
    return ERR_OK;
  }
  u16_t total = p->tot_len;
  size_t room = sizeof c->req - c->buffered;
  size_t take = total < room ? total : room; /* excess bytes of an over-long head are dropped: 431 follows */
  pbuf_copy_partial(p, c->req + c->buffered, (u16_t)take, 0);
  c->buffered += take;
  tcp_recved(pcb, total);
  pbuf_free(p);
  if (c->body_left == 0 && !serve(c)) return ERR_OK;
  tcp_output(pcb);
  return ERR_OK;
}

static void on_error(void *arg, err_t err) {
  (void)err;
  free(arg); /* the pcb is already gone */
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err) {
  (void)arg;
  if (err != ERR_OK || pcb == NULL) return ERR_VAL;
  struct conn *c = calloc(1, sizeof *c);
  if (c == NULL) return ERR_MEM;
  c->pcb = pcb;
  if (state_readable && tcp_dbg_get_tcp_state(pcb) != ESTABLISHED) {
    state_readable = 0;
    fprintf(stderr, "httpd-tap: a pcb's state does not read as ESTABLISHED on accept; TIME_WAIT pcbs are left to lwIP\n");
  }
  tcp_nagle_disable(pcb);
  tcp_arg(pcb, c);
  tcp_recv(pcb, on_recv);
  tcp_sent(pcb, on_sent);
  tcp_err(pcb, on_error);
  tcp_poll(pcb, on_poll, 2);
  return ERR_OK;
}

static void tcpip_ready(void *arg) {
  sys_sem_signal((sys_sem_t *)arg);
}

int main(int argc, char **argv) {
  ip4_addr_t address, netmask, gateway;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 3 || !ip4addr_aton(argv[1], &address) || !ip4addr_aton(argv[2], &netmask)) {
    fprintf(stderr, "usage: PRECONFIGURED_TAPIF=<tap> %s <address> <netmask> [port]\n", argv[0]);
    return 2;
  }
  int port = argc > 3 ? atoi(argv[3]) : 80;
  if (getenv("PRECONFIGURED_TAPIF") == NULL) {
    fprintf(stderr, "%s: set PRECONFIGURED_TAPIF to an existing TAP device (this program never configures one)\n", argv[0]);
    return 2;
  }
  const char *small_file = getenv("SMALL_BODY_FILE");
  if (small_file != NULL) {
    FILE *f = fopen(small_file, "rb");
    if (f == NULL) {
      fprintf(stderr, "%s: cannot open SMALL_BODY_FILE %s\n", argv[0], small_file);
      return 2;
    }
    small_len = fread(small_body, 1, sizeof small_body, f);
    fclose(f);
  }
  ip4_addr_set_zero(&gateway);
  for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (unsigned char)('a' + i % 26);

  sys_sem_t ready;
  if (sys_sem_new(&ready, 0) != ERR_OK) return 1;
  tcpip_init(tcpip_ready, &ready);
  sys_sem_wait(&ready);

  LOCK_TCPIP_CORE();
  struct netif *netif = &netif_storage.netif;
  if (netif_add(netif, &address, &netmask, &gateway, NULL, tapif_init, tcpip_input) == NULL) {
    UNLOCK_TCPIP_CORE();
    fprintf(stderr, "netif_add failed\n");
    return 1;
  }
  netif_set_default(netif);
  netif_set_up(netif);
  struct tcp_pcb *listener = tcp_new_ip_type(IPADDR_TYPE_V4);
  if (listener == NULL || tcp_bind(listener, IP4_ADDR_ANY, (u16_t)port) != ERR_OK) {
    UNLOCK_TCPIP_CORE();
    fprintf(stderr, "cannot bind port %d\n", port);
    return 1;
  }
  listener = tcp_listen_with_backlog(listener, 255);
  if (listener == NULL) {
    UNLOCK_TCPIP_CORE();
    fprintf(stderr, "tcp_listen failed\n");
    return 1;
  }
  tcp_accept(listener, on_accept);
  UNLOCK_TCPIP_CORE();

  printf("ready %s:%d\n", argv[1], port);
  for (;;) pause();
}
