# Helpers shared by the proxy benchmarks (sourced).

# CPU clock ticks used so far by a process and its children (nginx's workers).
cpu_ticks() {
  local total=0 p
  for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    [ -r "/proc/$p/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}
tck=$(getconf CLK_TCK)

# The median of whitespace-separated numbers on stdin.
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# wrk's latency ("850.00us", "1.20ms", "2s") in milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; printf "%.2f", v}'; }
