#!/usr/bin/python3
"""PID 1 of a test instance. boot-instance.sh starts it in the instance's own network,
mount, PID and UTS namespaces, still seeing the host's files. It:

  - mounts /proc, /sys, a minimal /dev and /run inside the root (in this private mount
    namespace only, so they vanish with the instance and never show on the host);
  - sets the host name;
  - runs the user data chrooted into the root, as cloud-init would: executed directly
    (honouring its #! line), or with /bin/sh when it has none, as root, in /, with a
    clean environment plus the variables given in ENV_FILE;
  - writes the user data's exit status to STATE_DIR/user-data.exit when it ends;
  - then stays up, reaping orphans, like an instance's init, until it is told to stop:
    SIGTERM sends SIGTERM to every process of the instance, then ends after a grace
    period (the kernel kills whatever is left when PID 1 ends).

    instance-init.py ROOT STATE_DIR HOSTNAME USER_DATA_PATH_IN_ROOT ENV_FILE
"""
import os
import signal
import subprocess
import sys
import time

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GRACE_SECONDS = 2.0


def log(message):
    print(f"[instance-init] {message}", file=sys.stderr, flush=True)


def run(*argv):
    subprocess.run(argv, check=True)


def mount_filesystems(root):
    run("mount", "-t", "proc", "-o", "nosuid,nodev,noexec", "proc", f"{root}/proc")
    run("mount", "-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", f"{root}/sys")
    run("mount", "-t", "tmpfs", "-o", "nosuid,mode=0755", "run", f"{root}/run")
    # A /dev of its own, as a container runtime makes it: the usual character devices,
    # a private devpts and /dev/shm; the host's disks and consoles are not there.
    dev = f"{root}/dev"
    run("mount", "-t", "tmpfs", "-o", "nosuid,mode=0755,size=16m", "dev", dev)
    for name, major, minor in [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7),
                               ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]:
        path = f"{dev}/{name}"
        os.mknod(path, 0o666 | 0o020000, os.makedev(major, minor))
        os.chmod(path, 0o666)
    os.mkdir(f"{dev}/pts")
    os.mkdir(f"{dev}/shm", 0o1777)
    os.chmod(f"{dev}/shm", 0o1777)
    run("mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620", "devpts", f"{dev}/pts")
    run("mount", "-t", "tmpfs", "-o", "nosuid,nodev,mode=1777", "shm", f"{dev}/shm")
    for link, target in [("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")]:
        os.symlink(target, f"{dev}/{link}")


def read_env(env_file):
    env = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "USER": "root", "LOGNAME": "root"}
    with open(env_file) as lines:
        for line in lines:
            line = line.rstrip("\n")
            if "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
    return env


def start_user_data(root, path, env):
    with open(f"{root}{path}", "rb") as script:
        has_shebang = script.read(2) == b"#!"
    argv = [path] if has_shebang else ["/bin/sh", path]
    pid = os.fork()
    if pid == 0:
        try:
            os.chroot(root)
            os.chdir("/")
            os.setsid()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.execve(argv[0], argv, env)
        except BaseException as error:  # still the init's copy: never return into it
            print(f"[instance-init] cannot start the user data: {error}", file=sys.stderr, flush=True)
            os._exit(127)
    return pid


def main():
    root, state_dir, hostname, user_data, env_file = sys.argv[1:6]
    stopping = {"at": None}

    def on_term(signum, frame):
        if stopping["at"] is None:
            stopping["at"] = time.monotonic()
            log("stopping: SIGTERM to every process of the instance")
            try:
                os.kill(-1, signal.SIGTERM)  # in a PID namespace: all but ourselves
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    mount_filesystems(root)
    run("hostname", hostname)
    user_data_pid = start_user_data(root, user_data, read_env(env_file))
    log(f"user data started (pid {user_data_pid} in the instance)")
    with open(f"{state_dir}/init.ready", "w") as ready:
        ready.write(f"{user_data_pid}\n")

    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # every process of the instance has ended
            if stopping["at"] is not None:
                log("stopped")
                return
            pid, status = 0, 0
        if pid == user_data_pid:
            code = os.waitstatus_to_exitcode(status)
            log(f"user data exited with {code}")
            with open(f"{state_dir}/user-data.exit.tmp", "w") as out:
                out.write(f"{code}\n")
            os.rename(f"{state_dir}/user-data.exit.tmp", f"{state_dir}/user-data.exit")
        if pid:
            continue
        if stopping["at"] is not None and time.monotonic() - stopping["at"] > GRACE_SECONDS:
            log("stopped")
            return
        time.sleep(0.2)


if __name__ == "__main__":
    main()
