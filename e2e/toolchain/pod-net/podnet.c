/*
 * A pod's network, for processes that run a pod's containers on the host (e2e/servers/pods/).
 *
 * In a cluster each pod has a network namespace of its own: a server that binds every address
 * (0.0.0.0 or ::) gets the pod's IP and the pod's loopback, and a Service's cluster IP reaches a
 * pod behind it through kube-proxy's rules. Here the pods' processes share the host's network,
 * so this library, preloaded into each of them (/etc/ld.so.preload of the pod's private mount
 * namespace), does those three things at the socket calls:
 *
 *   bind(0.0.0.0:P) and bind([::]:P)      -> bind(<pod IP>:P)   (the second as ::ffff:<pod IP>; an
 *                                            IPv6-only socket: [::1]:<any>, the pod has no IPv6 address)
 *   connect(127.0.0.1:P) or ([::1]:P), P one of the pod's container ports -> connect(<pod IP>:P)
 *   connect(<cluster IP>:P), a route of the table -> connect(<endpoint IP>:<target port>)
 *   connect(<address of a rejected range>:P), no route -> ECONNREFUSED (kube-proxy's answer for a
 *                                                         Service without endpoints)
 *
 * Everything else passes unchanged. It reads "network" in its own folder, one setting a line:
 *   ip <pod IPv4>
 *   port <container port>                      (any number of them)
 *   route <cluster IPv4> <port> <IPv4> <port>  (any number; the file is read again when it changes)
 *   reject <IPv4>/<prefix length>              (the Services' range: nothing there is reached unrouted)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_PORTS 64
#define MAX_ROUTES 256
#define MAX_REJECTS 8

struct route {
  struct in_addr from;
  unsigned short from_port;
  struct in_addr to;
  unsigned short to_port;
};

static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char config[PATH_MAX];
static struct timespec config_mtime;
static int have_ip;
static struct in_addr pod_ip;
static unsigned short ports[MAX_PORTS];
static int nports;
static struct route routes[MAX_ROUTES];
static int nroutes;
static struct in_addr reject_net[MAX_REJECTS];
static uint32_t reject_mask[MAX_REJECTS];
static int nrejects;

/* Reads the settings when the file changed since the last read; callers hold the lock. */
static void load(void) {
  struct stat st;
  if (!config[0] || stat(config, &st) != 0) return;
  if (st.st_mtim.tv_sec == config_mtime.tv_sec && st.st_mtim.tv_nsec == config_mtime.tv_nsec) return;
  FILE *f = fopen(config, "re");
  if (!f) return;
  config_mtime = st.st_mtim;
  have_ip = 0;
  nports = 0;
  nroutes = 0;
  nrejects = 0;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    char a[64], b[64];
    unsigned p, q;
    if (sscanf(line, "ip %63s", a) == 1) {
      have_ip = inet_pton(AF_INET, a, &pod_ip) == 1;
    } else if (sscanf(line, "port %u", &p) == 1 && p < 65536 && nports < MAX_PORTS) {
      ports[nports++] = (unsigned short)p;
    } else if (sscanf(line, "reject %63[0-9.]/%u", a, &p) == 2 && p <= 32 && nrejects < MAX_REJECTS) {
      if (inet_pton(AF_INET, a, &reject_net[nrejects]) == 1) {
        reject_mask[nrejects] = p ? htonl(0xffffffffu << (32 - p)) : 0;
        nrejects++;
      }
    } else if (sscanf(line, "route %63s %u %63s %u", a, &p, b, &q) == 4 && p < 65536 && q < 65536 &&
               nroutes < MAX_ROUTES) {
      struct route *r = &routes[nroutes];
      if (inet_pton(AF_INET, a, &r->from) == 1 && inet_pton(AF_INET, b, &r->to) == 1) {
        r->from_port = (unsigned short)p;
        r->to_port = (unsigned short)q;
        nroutes++;
      }
    }
  }
  fclose(f);
}

__attribute__((constructor)) static void init(void) {
  real_bind = dlsym(RTLD_NEXT, "bind");
  real_connect = dlsym(RTLD_NEXT, "connect");
  Dl_info info;
  if (dladdr((void *)init, &info) && info.dli_fname) {
    const char *slash = strrchr(info.dli_fname, '/');
    if (slash) snprintf(config, sizeof config, "%.*s/network", (int)(slash - info.dli_fname), info.dli_fname);
  }
  pthread_mutex_lock(&lock);
  load();
  pthread_mutex_unlock(&lock);
}

static int pod_port(unsigned short port) {
  for (int i = 0; i < nports; i++)
    if (ports[i] == port) return 1;
  return 0;
}

/* The IPv4 address a v4-mapped IPv6 address holds, if it is one. */
static int mapped(const struct in6_addr *a, struct in_addr *out) {
  if (!IN6_IS_ADDR_V4MAPPED(a)) return 0;
  memcpy(out, &a->s6_addr[12], 4);
  return 1;
}

static void map(struct in6_addr *a, struct in_addr v4) {
  memset(a, 0, sizeof *a);
  a->s6_addr[10] = 0xff;
  a->s6_addr[11] = 0xff;
  memcpy(&a->s6_addr[12], &v4, 4);
}

/* Where a connection to addr:port goes instead: 1 (to, to_port), -1 refused, 0 where it was sent. */
static int redirect(struct in_addr addr, unsigned short port, struct in_addr *to, unsigned short *to_port) {
  int found = 0;
  pthread_mutex_lock(&lock);
  load();
  if (have_ip && addr.s_addr == htonl(INADDR_LOOPBACK) && pod_port(port)) {
    *to = pod_ip;
    *to_port = port;
    found = 1;
  }
  for (int i = 0; !found && i < nroutes; i++) {
    if (routes[i].from.s_addr == addr.s_addr && routes[i].from_port == port) {
      *to = routes[i].to;
      *to_port = routes[i].to_port;
      found = 1;
    }
  }
  for (int i = 0; !found && i < nrejects; i++)
    if ((addr.s_addr & reject_mask[i]) == (reject_net[i].s_addr & reject_mask[i])) found = -1;
  pthread_mutex_unlock(&lock);
  return found;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  if (!real_bind) real_bind = dlsym(RTLD_NEXT, "bind");
  pthread_mutex_lock(&lock);
  int ip = have_ip;
  struct in_addr pod = pod_ip;
  pthread_mutex_unlock(&lock);
  if (ip && addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    memcpy(&in, addr, sizeof in);
    if (in.sin_addr.s_addr == htonl(INADDR_ANY)) {
      in.sin_addr = pod;
      return real_bind(fd, (struct sockaddr *)&in, sizeof in);
    }
  } else if (ip && addr && addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 in6;
    memcpy(&in6, addr, sizeof in6);
    if (IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr)) {
      int v6only = 0;
      socklen_t size = sizeof v6only;
      if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &size) == 0 && v6only) {
        /* Every IPv6 address of the pod, which has none here: a port of the kernel's choice on ::1, where
         * nothing reaches it (a server that also binds IPv4, as tornado does, gets that port there). */
        in6.sin6_addr = in6addr_loopback;
        in6.sin6_port = 0;
      } else {
        /* Every address of the pod, IPv4 included: the socket takes IPv4 (v4-mapped) connections. */
        map(&in6.sin6_addr, pod);
      }
      return real_bind(fd, (struct sockaddr *)&in6, sizeof in6);
    }
  }
  return real_bind(fd, addr, len);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  if (!real_connect) real_connect = dlsym(RTLD_NEXT, "connect");
  struct in_addr to;
  unsigned short to_port;
  if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    memcpy(&in, addr, sizeof in);
    int where = redirect(in.sin_addr, ntohs(in.sin_port), &to, &to_port);
    if (where < 0) {
      errno = ECONNREFUSED;
      return -1;
    }
    if (where > 0) {
      in.sin_addr = to;
      in.sin_port = htons(to_port);
      return real_connect(fd, (struct sockaddr *)&in, sizeof in);
    }
  } else if (addr && addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 in6;
    memcpy(&in6, addr, sizeof in6);
    struct in_addr v4;
    if (IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr)) v4.s_addr = htonl(INADDR_LOOPBACK);
    else if (!mapped(&in6.sin6_addr, &v4)) return real_connect(fd, addr, len);
    int where = redirect(v4, ntohs(in6.sin6_port), &to, &to_port);
    if (where < 0) {
      errno = ECONNREFUSED;
      return -1;
    }
    if (where > 0) {
      map(&in6.sin6_addr, to);
      in6.sin6_port = htons(to_port);
      return real_connect(fd, (struct sockaddr *)&in6, sizeof in6);
    }
  }
  return real_connect(fd, addr, len);
}
