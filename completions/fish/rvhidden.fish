# fish completion for rvhidden (rendezvous). Options must match 'rvhidden --help'
# (tests/docs/test_docs_sync.py checks it). Installed in fish/vendor_completions.d.

complete -c rvhidden -f
complete -c rvhidden -s h -l help -d 'Print the help and exit'
complete -c rvhidden -s V -l version -d 'Print the version and exit'
complete -c rvhidden -s c -l config -r -F -d 'Read options from a file of name = value lines'
complete -c rvhidden -l log-level -x -a 'error warn info debug' -d 'Log level (default warn)'
complete -c rvhidden -s s -l server -x -d 'A rendezvous server (node), HOST:PORT; repeatable'
complete -c rvhidden -s u -l uuid -x -d 'The UUID to register'
complete -c rvhidden -l secrets -r -F -d 'Secrets file with the line for each UUID, mode 0600'
complete -c rvhidden -s f -l forward -x -a '127.0.0.1:22 127.0.0.1:80 127.0.0.1:443' -d 'Local service each client is relayed to'
complete -c rvhidden -l service -x -d "Serve UUID with the local service HOST:PORT: 'UUID HOST:PORT', repeatable"
complete -c rvhidden -s p -l pool -x -d 'Connections kept parked at the server per UUID (default 4)'
complete -c rvhidden -l ca-file -r -F -d 'Trust this CA (or self-signed certificate)'
complete -c rvhidden -l pin -x -d 'Require the server key to match this SPKI pin (sha256//BASE64)'
complete -c rvhidden -l server-name -x -a '(__fish_print_hostnames)' -d 'Name the certificate must carry, and SNI'
complete -c rvhidden -l connect-timeout -x -d 'Deadline for connecting, handshake and answer (default 10)'
complete -c rvhidden -l keepalive -x -d 'TCP keepalive idle time (default 20)'
complete -c rvhidden -l max-backoff -x -d 'Longest wait between reconnection attempts (default 60)'
complete -c rvhidden -l max-tunnels -x -d 'Tunnels open at once, all UUIDs (default 1024, or what the descriptor limit allows)'
complete -c rvhidden -l max-tunnels-per-service -x -d 'Tunnels open at once for any one UUID'
complete -c rvhidden -l server-addresses -x -a 'first all' -d 'Each --server one node (first), or each of its addresses (all)'
complete -c rvhidden -l resolve-interval -x -d 'Resolve the --server names again every SECONDS (default 60)'
