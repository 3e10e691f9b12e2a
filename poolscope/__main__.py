from poolscope._cli import main

main()
