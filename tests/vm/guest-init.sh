#!/bin/busybox sh
# PID 1 of the test VM (adapted from shared/vm/guest-init.sh; see run-in-vm.sh for the machine):
#   node0 = CPUs + RAM, node1 = RAM only (HMAT: slower), region0 = NVDIMM -> fsdax /dev/pmem0,
#   region1 = NVDIMM (proximity domain 2) -> devdax -> system-ram (kmem), a new memory-only node.
# Prints evidence, runs /test/run (appended by run-in-vm.sh), prints HETMEM-VM-EXIT=<rc>, powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/shm /dev/hugepages
mount -t tmpfs shm /dev/shm; mount -t hugetlbfs hugetlbfs /dev/hugepages 2>/dev/null
log() { echo "[hetmem] $*"; }
hmat() {
  for a in /sys/devices/system/node/node*/access0; do
    [ -d "$a" ] || continue
    log "$a/initiators: $(ls "$a/initiators" | grep node | tr '\n' ' ')" \
        "lat(r/w ns)=$(cat "$a/initiators/read_latency")/$(cat "$a/initiators/write_latency")" \
        "bw(r/w MB/s)=$(cat "$a/initiators/read_bandwidth")/$(cat "$a/initiators/write_bandwidth")"
  done
}
nodes() {
  for n in /sys/devices/system/node/node[0-9]*; do
    log "$(basename "$n"): cpus=[$(cat "$n/cpulist")] $(grep MemTotal "$n/meminfo" | tr -s ' ' | cut -d' ' -f3-)"
  done
}
echo; log "uptime at init: $(cut -d' ' -f1 /proc/uptime)s"
log "kernel $(uname -r); THP enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo absent)" \
    "defrag: $(cat /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null || echo absent);" \
    "hugetlb sizes: $(ls /sys/kernel/mm/hugepages 2>/dev/null | tr '\n' ' ')"
for m in nfit nd_pmem nd_btt dax_pmem device_dax kmem ext4 crc32c_intel crc32c_generic; do
  modprobe "$m" 2>/dev/null || log "modprobe $m failed"
done
i=0; while [ ! -e /sys/bus/nd/devices/region1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done

log "--- NUMA"; nodes; hmat
for c in /sys/devices/system/node/node*/memory_side_cache/index*; do
  [ -d "$c" ] && log "$c: size=$(cat "$c/size") line=$(cat "$c/line_size") indexing=$(cat "$c/indexing") write_policy=$(cat "$c/write_policy")"
done

# QEMU's label area starts blank (the kernel then shows raw label-less namespaces): write labels.
ndctl disable-region all >/dev/null 2>&1; ndctl init-labels -f all >/dev/null 2>&1; ndctl enable-region all >/dev/null 2>&1

log "--- NVDIMM fsdax (region0)"
ndctl create-namespace -r region0 -m fsdax >/tmp/ns0.json 2>&1 || { log "create fsdax failed:"; cat /tmp/ns0.json; }
if [ -b /dev/pmem0 ]; then
  log "$(ls /dev/pmem*) size=$(cat /sys/block/pmem0/size) sectors dax=$(cat /sys/block/pmem0/queue/dax)"
  if mkfs.ext4 -q -F -b 4096 /dev/pmem0 && mount -t ext4 -o dax /dev/pmem0 /mnt/pmem; then
    log "mounted: $(grep pmem0 /proc/mounts)"; export HETMEM_PMEM_DIR=/mnt/pmem
  else
    dmesg | tail -3 | while read -r l; do log "dmesg: $l"; done
  fi
  mapsync_check /mnt/pmem | while read -r l; do log "$l"; done
else
  log "no /dev/pmem0"
fi

log "--- NVDIMM devdax -> system-ram (region1)"
if ndctl create-namespace -r region1 -m devdax >/tmp/ns1.json 2>&1; then
  DAX=$(ls /sys/bus/dax/devices | head -1)
  log "devdax: $DAX target_node=$(cat "/sys/bus/dax/devices/$DAX/target_node") size=$(cat "/sys/bus/dax/devices/$DAX/size")"
  daxctl reconfigure-device --mode=system-ram "$DAX" >/tmp/kmem.json 2>&1 || { log "daxctl failed:"; cat /tmp/kmem.json; }
  export HETMEM_KMEM_NODE=$(cat "/sys/bus/dax/devices/$DAX/target_node")
  log "after kmem: $(grep -o '"mode":"[^"]*"' /tmp/kmem.json)"; nodes; hmat
else
  log "create devdax failed:"; cat /tmp/ns1.json
fi

if [ -x /test/run ]; then
  log "--- running test"; cd /test && ./run; rc=$?
else
  mapsync_check /mnt/pmem >/dev/null; rc=$?
fi
echo "HETMEM-VM-EXIT=$rc"
poweroff -f
