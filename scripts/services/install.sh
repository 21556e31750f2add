# shellcheck shell=bash
# Installing the servers with apt (sourced by scripts/services.sh): which packages are missing, and
# an install that starts none of the distro's own instances, or stops any that came up anyway.

readonly PACKAGES=(postgresql redis-server redis-sentinel rabbitmq-server)
# the HA profile (`up --ha`) adds these; cmd_up_ha sets HA_PROFILE=1
readonly HA_PACKAGES=(patroni etcd-server python3-etcd pgbackrest curl jq iptables)
HA_PROFILE=0

pkg_installed() { [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]; }

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    pkg_installed "$p" || echo "$p"
  done
  if ((HA_PROFILE)); then
    for p in "${HA_PACKAGES[@]}"; do
      pkg_installed "$p" || echo "$p"
    done
  fi
  # tools this script needs (all in Debian's base system, but check)
  command -v setpriv >/dev/null || echo util-linux
  command -v ss >/dev/null || echo iproute2
  command -v pgrep >/dev/null || echo procps
}

install_packages() {
  local missing
  missing=$(missing_packages | sort -u | tr '\n' ' ')
  [[ -z ${missing// /} ]] && return 0

  # one installer at a time, across state folders
  exec 8>/tmp/tally-services-apt.lock
  flock -w 900 8 || die "waited 900 s for another install"
  missing=$(missing_packages | sort -u | tr '\n' ' ')
  if [[ -z ${missing// /} ]]; then
    exec 8>&-
    return 0
  fi

  log "installing: $missing(apt-get update once, then install; distro services kept stopped)"
  local epmd_before=0
  listening 4369 && epmd_before=1

  # policy-rc.d exit 101: invoke-rc.d starts no service during the install
  local policy=/usr/sbin/policy-rc.d backup=""
  if [[ -e $policy ]]; then
    backup=$(mktemp /tmp/tally-policy-rc.d.XXXXXX)
    cp -p "$policy" "$backup"
    CLEANUPS+=("cp -p '$backup' '$policy'; rm -f '$backup'")
  else
    CLEANUPS+=("rm -f '$policy'")
  fi
  printf '#!/bin/sh\n# written by Tally %s during apt-get install\nexit 101\n' "$ME" >"$policy"
  chmod 755 "$policy"

  export DEBIAN_FRONTEND=noninteractive
  local apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  # shellcheck disable=SC2086
  {
    apt-get "${apt_opts[@]}" update -qq
    apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends $missing
  } </dev/null >&2 9>&- 8>&- || die "apt-get install $missing failed"

  # belt and braces: if a distro instance came up anyway, stop it (it was started by this install)
  local svc
  for svc in redis-sentinel redis-server rabbitmq-server etcd patroni; do
    [[ (" $missing " == *" $svc "* || " $missing " == *" $svc-server "*) && -x /etc/init.d/$svc ]] || continue
    if timeout 30 /etc/init.d/"$svc" status >/dev/null 2>&1; then
      log "stopping the distro's $svc started by the install"
      timeout 60 /etc/init.d/"$svc" stop >&2 9>&- 8>&- || true
    fi
  done
  if [[ " $missing " == *" postgresql "* ]] && command -v pg_lsclusters >/dev/null; then
    pg_lsclusters -h 2>/dev/null | awk '$4 == "online" { print $1, $2 }' | while read -r v c; do
      log "stopping the distro's PostgreSQL cluster $v/$c started by the install"
      pg_ctlcluster "$v" "$c" stop -m fast >&2 9>&- 8>&- || true
    done
  fi
  if ((epmd_before == 0)) && listening 4369 && command -v epmd >/dev/null; then
    log "stopping the system epmd (port 4369) started by the install"
    epmd -kill >/dev/null 2>&1 || true
  fi
  exec 8>&-
}
