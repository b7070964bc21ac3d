// SO_PEERCRED for a connected Unix socket: the pid, uid and gid of the process at the
// other end, as the kernel recorded them at connect(2) — and a pidfd of that very
// process (SO_PEERPIDFD, Linux 6.5+), so keyward can ask around every call whether the
// process that connected is still alive without reading /proc/<pid>/stat (a ~20 µs
// kernel walk); on older kernels keyward falls back to that read. Node has no API for
// either.
#include <napi.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // asm-generic value (x86_64, arm64); older libc headers lack it
#endif

static Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "peerCredentials(fd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int fd = info[0].As<Napi::Number>().Int32Value();
  struct ucred cred;
  socklen_t length = sizeof(cred);
  std::memset(&cred, 0, sizeof(cred));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0 || length != sizeof(cred)) {
    Napi::Error::New(env, std::string("getsockopt(SO_PEERCRED): ") + std::strerror(errno)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, cred.pid));
  result.Set("uid", Napi::Number::New(env, cred.uid));
  result.Set("gid", Napi::Number::New(env, cred.gid));
  return result;
}

static int FdArgument(const Napi::CallbackInfo& info, const char* usage) {
  if (info.Length() != 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
    return -1;
  }
  return info[0].As<Napi::Number>().Int32Value();
}

// peerPidfd(socketFd): a pidfd (close-on-exec) of the process that connected, or -1 when
// the kernel offers none (then the caller falls back to reading /proc).
static Napi::Value PeerPidfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArgument(info, "peerPidfd(fd: number)");
  if (fd < 0) return env.Undefined();
  int pidfd = -1;
  socklen_t length = sizeof(pidfd);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &length) == 0 && length == sizeof(pidfd) && pidfd >= 0) {
    return Napi::Number::New(env, pidfd);
  }
  return Napi::Number::New(env, -1);
}

// pidfdExited(pidfd): true once the process has exited (the pidfd polls readable).
static Napi::Value PidfdExited(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArgument(info, "pidfdExited(pidfd: number)");
  if (fd < 0) return env.Undefined();
  struct pollfd entry = {fd, POLLIN, 0};
  int ready;
  do {
    ready = poll(&entry, 1, 0);
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) {
    Napi::Error::New(env, std::string("poll(pidfd): ") + std::strerror(errno)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Boolean::New(env, ready > 0 && (entry.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0);
}

// closeFd(fd): closes a pidfd this addon handed out.
static Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  const int fd = FdArgument(info, "closeFd(fd: number)");
  if (fd >= 0) close(fd);
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials));
  exports.Set("peerPidfd", Napi::Function::New(env, PeerPidfd));
  exports.Set("pidfdExited", Napi::Function::New(env, PidfdExited));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  return exports;
}

NODE_API_MODULE(peer_credentials, Init)
