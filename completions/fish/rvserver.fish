# fish completion for rvserver (rendezvous). Options must match 'rvserver --help'
# (tests/docs/test_docs_sync.py checks it). Installed in fish/vendor_completions.d.

complete -c rvserver -f
complete -c rvserver -s h -l help -d 'Print the help and exit'
complete -c rvserver -s V -l version -d 'Print the version and exit'
complete -c rvserver -s c -l config -r -F -d 'Read options from a file of name = value lines'
complete -c rvserver -l log-level -x -a 'error warn info debug' -d 'Log level (default info)'
complete -c rvserver -s l -l listen -x -a '0.0.0.0:8899 [::]:8899 127.0.0.1:0' -d 'Address to listen on (repeatable)'
complete -c rvserver -l cert -r -F -d 'PEM certificate chain'
complete -c rvserver -l key -r -F -d 'PEM private key'
complete -c rvserver -l secrets -r -F -d 'UUIDs and their TOTP secrets, mode 0600'
complete -c rvserver -l grace -x -d 'Seconds a client waits for a parked connection (default 3)'
complete -c rvserver -l max-parked -x -d 'Parked connections kept per UUID (default 64)'
complete -c rvserver -l handshake-timeout -x -d 'Deadline for the TLS handshake (default 10)'
complete -c rvserver -l head-timeout -x -d 'Deadline for a request head (default 10)'
complete -c rvserver -l notify-timeout -x -d 'Deadline for the answer to an arrival notice (default 10)'
complete -c rvserver -l keepalive -x -d 'TCP keepalive idle time on parked connections (default 20)'
