#!/bin/sh
# Rubric's container entrypoint: delegate a cgroup v2 subtree to the service user, as
# systemd's Delegate=yes does on a host, then run the command as that user with only
# the capabilities the sandbox's fork server needs (see docs/deploy.md, "Container").
#
# Needs: docker run --cgroupns=private --cap-add SYS_ADMIN (mount, namespaces) and
# --security-opt apparmor=unconfined (docker-default forbids mount). Where something
# is missing, Rubric still starts: the sandbox names what stands in for the cgroups.
set -eu

CG="${RUBRIC_CGROUP_MOUNT:-/sys/fs/cgroup}"  # the container's own cgroup namespace
USER_NAME="${RUBRIC_USER:-rubric}"
INSTANCE="${RUBRIC_INSTANCE_DIR:-/app/instance}"  # SQLite, the secret key: the user's own
CAPS="${RUBRIC_SERVICE_CAPS:-+sys_admin,+sys_chroot,+setuid,+setgid}"

delegate() {
    [ -f "$CG/cgroup.controllers" ] || return 1  # not cgroup v2
    if ! touch "$CG/cgroup.procs" 2>/dev/null; then
        mount -o remount,rw "$CG" 2>/dev/null || return 1  # Docker mounts it read-only
    fi
    mkdir -p "$CG/rubric/service" || return 1
    # No internal processes: this shell (PID 1, then the service) moves to a leaf of the
    # delegated subtree, so that its own moves stay inside it and controllers can be
    # enabled above it.
    echo $$ > "$CG/rubric/service/cgroup.procs" || return 1
    for controller in memory pids cpu; do
        echo "+$controller" > "$CG/cgroup.subtree_control" 2>/dev/null || true
    done
    # What systemd hands a delegated unit: the directory and these three files.
    chown "$USER_NAME:$USER_NAME" "$CG/rubric" "$CG/rubric/service" \
        "$CG/rubric/cgroup.procs" "$CG/rubric/cgroup.subtree_control" \
        "$CG/rubric/cgroup.threads" "$CG/rubric/service/cgroup.procs"
    export RUBRIC_SANDBOX_CGROUP_ROOT="$CG/rubric"
}

if [ "$(id -u)" = 0 ]; then
    if [ -z "${RUBRIC_SANDBOX_CGROUP_ROOT:-}" ]; then
        delegate || echo "rubric: no cgroup v2 subtree could be delegated" >&2
    fi
    mkdir -p "$INSTANCE" && chown "$USER_NAME:$USER_NAME" "$INSTANCE"
    exec setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --clear-groups \
        --inh-caps="$CAPS" --ambient-caps="$CAPS" --bounding-set="-all,$CAPS" -- "$@"
fi
exec "$@"
