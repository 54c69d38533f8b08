from django.core.management.base import BaseCommand
from django_q.cluster import Cluster

from backoffice import worker


class Command(BaseCommand):
    help = (
        "Run the background worker (monitors, notifications, periodic jobs) until stopped. Run one beside "
        "the web servers, or several: the database hands each job to one of them."
    )

    def handle(self, *args, **options):
        worker.register()
        self.stdout.write(f"Periodic jobs: {', '.join(func for func, _ in worker.PERIODIC_JOBS)}")
        Cluster().start()
